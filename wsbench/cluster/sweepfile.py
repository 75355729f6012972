"""Sweep files: methods x parameter grids x data sets x seeds, expanded into runs.

```yaml
name: smoke                 # default: the file's stem
seeds: 3                    # a count, a list, or "2-4"
profile: smoke              # default profile of every method entry
methods:
  - name: hyperinr
    params: {latent_dim: [8, 16], epochs: 3}   # a list is a grid axis
  - name: mwt
    datasets: [digits]      # optional: only on these of the sweep's data sets
    seeds: 2                # optional: this entry's seeds (before the data set's and the file's)
datasets:
  - name: digits
  - name: synthetic
    params: {per_class: 10}
    from: /path/to/source   # optional: `prepare --from` for this data set
    seeds: 1                # optional: this data set's seeds (before the file's)
cluster: {timeout_min: 20}  # optional overrides of slurm/cluster.yaml
```
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wsbench.cluster.settings import CLUSTER_SETTINGS
from wsbench.core import params as P
from wsbench.core.discovery import Registry
from wsbench.core.errors import UserError
from wsbench.core.runner import RunSpec, make_spec

CLUSTER_FILE = Path("slurm") / "cluster.yaml"  # in the project folder
# The schema of a sweep file: every key it may hold, with the types its value may have.
SWEEP_KEYS = {"name": (str,), "seeds": (int, str, list), "profile": (str,), "methods": (list,),
              "datasets": (list,), "cluster": (dict,)}
ENTRY_KEYS = {"methods": {"name": (str,), "params": (dict,), "profile": (str,), "datasets": (list,),
                          "seeds": (int, str, list)},
              "datasets": {"name": (str,), "params": (dict,), "from": (str,), "seeds": (int, str, list)}}


@dataclass
class Sweep:
    name: str
    path: Path
    specs: list[RunSpec]
    cluster: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)  # data set -> --from folder


def check_keys(mapping: dict, schema: dict[str, tuple], where: str) -> None:
    """Every key known and every value of an allowed type, or an error naming the key."""
    for key, value in mapping.items():
        if key not in schema:
            raise UserError(f"{where}: unknown key {key!r}; known: {', '.join(schema)}")
        if not isinstance(value, schema[key]) or isinstance(value, bool):
            kinds = " or ".join({str: "text", int: "a number", list: "a list", dict: "a mapping"}[k]
                                for k in schema[key])
            raise UserError(f"{where}: `{key}` must be {kinds}, got {value!r}")


def _entries(doc: dict, key: str, path: Path) -> list[dict]:
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise UserError(f"{path}: `{key}` must be a non-empty list")
    out = []
    for i, item in enumerate(items, 1):
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or "name" not in item:
            raise UserError(f"{path}: every entry of `{key}` needs a `name`, got {item!r}")
        check_keys(item, ENTRY_KEYS[key], f"{path}: {key} entry {i} ({item['name']})")
        out.append(item)
    return out


def _grid(values: dict[str, Any]) -> list[dict[str, str]]:
    """{a: [1, 2], b: 3} -> [{a: "1", b: "3"}, {a: "2", b: "3"}] as --param strings."""
    keys = sorted(values)
    axes = [v if isinstance(v, list) else [v] for v in (values[k] for k in keys)]
    return [{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in zip(keys, combo)}
            for combo in itertools.product(*axes)]


def read_cluster_settings(path: Path, required: bool) -> dict[str, Any]:
    """The settings in a cluster file; none when an optional file (the project's default) is absent."""
    if not path.is_file():
        if required:
            raise UserError(f"--settings {path}: no such file")
        return {}
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"cluster settings {path}: not valid YAML ({err})") from None
    if not isinstance(settings, dict):
        raise UserError(f"cluster settings {path}: expected a mapping")
    check_cluster_keys(settings, path)
    return settings


def check_cluster_keys(settings: dict, where: Any) -> None:
    unknown = set(settings) - set(CLUSTER_SETTINGS)
    if unknown:
        raise UserError(f"{where}: unknown cluster settings {sorted(unknown)}; known: {sorted(CLUSTER_SETTINGS)}")


def _seeds(value: int | str | list, where: str) -> list[int]:
    """A seed count (5: seeds 0-4), a selection ("2-4") or a list."""
    text = ",".join(f"{v}-{v}" if isinstance(v, int) else str(v) for v in value) if isinstance(value, list) \
        else str(value)  # in a list, 3 is seed 3, not three seeds
    return P.parse_indices(text, where)


def load_sweep(path: Path, reg: Registry) -> Sweep:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as err:
        raise UserError(f"sweep file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserError(f"sweep file {path}: not valid YAML ({err})") from None
    if not isinstance(doc, dict):
        raise UserError(f"sweep file {path}: expected a mapping at the top")
    check_keys(doc, SWEEP_KEYS, f"sweep file {path}")
    file_seeds = _seeds(doc.get("seeds", 1), f"sweep file {path}: seeds")
    cluster = doc.get("cluster") or {}
    check_cluster_keys(cluster, path)
    specs, sources = [], {}
    datasets, methods = _entries(doc, "datasets", path), _entries(doc, "methods", path)
    for i, m in enumerate(methods, 1):
        if unknown := [n for n in m.get("datasets", []) if n not in {d["name"] for d in datasets}]:
            raise UserError(f"{path}: methods entry {i} ({m['name']}): `datasets` names {unknown[0]!r}, "
                            f"which the sweep's `datasets` list does not hold")
    for d in datasets:
        dparams = P.resolve(reg.dataset(d["name"]), {k: str(v) for k, v in (d.get("params") or {}).items()})
        if d.get("from"):
            sources[d["name"]] = str(d["from"])
        for m in methods:
            if "datasets" in m and d["name"] not in m["datasets"]:
                continue
            seeds = (_seeds(m["seeds"], f"{path}: methods entry {m['name']}: seeds") if "seeds" in m
                     else _seeds(d["seeds"], f"{path}: datasets entry {d['name']}: seeds") if "seeds" in d
                     else file_seeds)
            profile = m.get("profile", doc.get("profile", "quick"))
            for overrides in _grid(m.get("params") or {}):
                mparams = P.resolve(reg.method(m["name"]), overrides, profile, d["name"],
                                    reg.dataset(d["name"]).modality)
                specs += [make_spec(reg, m["name"], d["name"], s, profile, mparams, dparams) for s in seeds]
    unique = {s.run_id: s for s in specs}
    return Sweep(doc.get("name", path.stem), path, list(unique.values()), cluster, sources)
