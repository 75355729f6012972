"""Find method and data-set plugins: plain .py files imported by path from the folders
passed in (wsbench.core.paths.plugin_dirs lists them), as benchopt does.

Loading by path (never `import datasets`) keeps a local datasets/ folder from
shadowing the package index's `datasets` package. A file that fails to import is
reported as broken with its error; the other plugins keep working.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from wsbench.core.contracts import Dataset, Method
from wsbench.core.errors import UserError
from wsbench.core.fileio import sha256_file


@dataclass
class Registry:
    methods: dict[str, type[Method]] = field(default_factory=dict)
    datasets: dict[str, type[Dataset]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # file -> error
    sources: dict[str, Path] = field(default_factory=dict)  # "method:NAME" -> file
    digests: dict[str, str] = field(default_factory=dict)  # "method:NAME" -> sha256 of the file as imported
    dirs: list[str] = field(default_factory=list)  # the folders searched: a run's process searches the same

    def method(self, name: str) -> type[Method]:
        return self._get(self.methods, name, "method")

    def dataset(self, name: str) -> type[Dataset]:
        return self._get(self.datasets, name, "data set")

    def files(self, method: str, dataset: str) -> dict[str, dict[str, str]]:
        """The plugin files a run of this method on this data set executes, each named by
        its folder and name (`methods/x.py`) with its sha256: what identifies a plugin's code
        where a version number that nobody bumped does not."""
        return {kind: {"file": f"{self.sources[key].parent.name}/{self.sources[key].name}",
                       "sha256": self.digests[key]}
                for kind, key in (("method", f"method:{method}"), ("dataset", f"dataset:{dataset}"))}

    def _get(self, table: dict, name: str, kind: str) -> type:
        if name not in table:
            hint = f"; broken plugin files: {', '.join(self.broken)}" if self.broken else ""
            raise UserError(f"unknown {kind} {name!r}; available: {', '.join(sorted(table)) or 'none'}{hint}")
        return table[name]


def _import_file(path: Path):
    """Import one file under a private module name derived from its path."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"_wsbench_plugin_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def discover(dirs: list[str]) -> Registry:
    """Every plugin in these folders (files named _*.py or template_*.py are skipped)."""
    reg = Registry(dirs=list(dirs))
    for folder in map(Path, dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith(("_", "template_")):
                continue
            try:
                module = _import_file(path)
            except Exception:
                reg.broken[str(path)] = traceback.format_exc(limit=-3).strip()
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__ or inspect.isabstract(cls):
                    continue
                for base, table, kind in ((Method, reg.methods, "method"), (Dataset, reg.datasets, "dataset")):
                    if issubclass(cls, base):
                        key = f"{kind}:{cls.name}"
                        if not cls.name:
                            reg.broken[str(path)] = f"{cls.__name__} has no `name`"
                        elif cls.name in table:
                            reg.broken[str(path)] = f"{kind} {cls.name!r} is already defined in {reg.sources[key]}"
                        else:
                            table[cls.name] = cls
                            reg.sources[key], reg.digests[key] = path, sha256_file(path)
    return reg
