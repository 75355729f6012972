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
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from wsbench.cluster.settings import CLUSTER_SETTINGS
from wsbench.core import params as P
from wsbench.core.discovery import Registry
from wsbench.core.errors import UserError
from wsbench.core.spec import Cell, RunSpec, plan_cells

CLUSTER_FILE = Path("slurm") / "cluster.yaml"  # in the project folder
Seeds = int | str | list  # a count, a selection ("2-4") or a list


class _Strict(BaseModel):
    """Every key known, every value of its declared type (strict: `true` is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class SweepFile(_Strict):
    """The top of a sweep file; its entries are checked one by one (MethodEntry, DatasetEntry)."""

    name: str = ""
    seeds: Seeds = 1
    profile: str = "quick"
    methods: list = []
    datasets: list = []
    cluster: dict = {}


class MethodEntry(_Strict):
    name: str
    params: dict = {}
    profile: str = ""
    datasets: list = []
    seeds: Seeds = []


class DatasetEntry(_Strict):
    name: str
    params: dict = {}
    source: str = Field("", alias="from")
    seeds: Seeds = []


# The cluster settings a file may set, each of its type or null (the cluster's default).
ClusterSettings = create_model("ClusterSettings", __base__=_Strict,
                               **{key: (kind | None, None) for key, (kind, _) in CLUSTER_SETTINGS.items()})
WORDS = {str: "text", int: "a number", list: "a list", dict: "a mapping", type(None): "null"}


def checked(model: type[_Strict], mapping: dict, where: str) -> Any:
    """`mapping` as a `model`, or an error naming its first wrong key (in the file's order):
    unknown (with the known ones) or of the wrong type."""
    try:
        return model.model_validate(mapping)
    except ValidationError as err:
        keys = list(mapping)
        wrong = min(err.errors(), key=lambda e: keys.index(e["loc"][0]) if e["loc"][0] in keys else len(keys))
        key = wrong["loc"][0]
        if wrong["type"] == "extra_forbidden":
            known = [f.alias or name for name, f in model.model_fields.items()]
            raise UserError(f"{where}: unknown key {key!r}; known: {', '.join(known)}") from None
        fld = next(f for name, f in model.model_fields.items() if key in (name, f.alias))
        kinds = " or ".join(WORDS[k] for k in typing.get_args(fld.annotation) or (fld.annotation,))
        raise UserError(f"{where}: `{key}` must be {kinds}, got {mapping[key]!r}") from None


@dataclass
class Sweep:
    name: str
    path: Path
    specs: list[RunSpec]
    cluster: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)  # data set -> --from folder


def _entries(doc: dict, key: str, model: type[_Strict], path: Path) -> list:
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise UserError(f"{path}: `{key}` must be a non-empty list")
    out = []
    for i, item in enumerate(items, 1):
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or "name" not in item:
            raise UserError(f"{path}: every entry of `{key}` needs a `name`, got {item!r}")
        out.append(checked(model, item, f"{path}: {key} entry {i} ({item['name']})"))
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
    checked(ClusterSettings, settings, f"{where}: cluster settings")


def _seeds(value: int | str | list, where: str) -> list[int]:
    """A seed count (5: seeds 0-4), a selection ("2-4") or a list."""
    text = ",".join(f"{v}-{v}" if isinstance(v, int) else str(v) for v in value) if isinstance(value, list) \
        else str(value)  # in a list, 3 is seed 3, not three seeds
    return P.parse_indices(text, where)


def load_sweep(path: Path, reg: Registry) -> Sweep:
    """A sweep file's runs, planned by the planner of `wsbench run` (wsbench.core.spec)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as err:
        raise UserError(f"sweep file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserError(f"sweep file {path}: not valid YAML ({err})") from None
    if not isinstance(doc, dict):
        raise UserError(f"sweep file {path}: expected a mapping at the top")
    sweep = checked(SweepFile, doc, f"sweep file {path}")
    file_seeds = _seeds(sweep.seeds, f"sweep file {path}: seeds")
    check_cluster_keys(sweep.cluster, path)
    datasets, methods = _entries(doc, "datasets", DatasetEntry, path), _entries(doc, "methods", MethodEntry, path)
    for i, m in enumerate(methods, 1):
        if unknown := [n for n in m.datasets if n not in {d.name for d in datasets}]:
            raise UserError(f"{path}: methods entry {i} ({m.name}): `datasets` names {unknown[0]!r}, "
                            f"which the sweep's `datasets` list does not hold")
    cells = []
    for j, d in enumerate(datasets, 1):
        data_over = {k: str(v) for k, v in d.params.items()}
        for i, m in enumerate(methods, 1):
            if "datasets" in m.model_fields_set and d.name not in m.datasets:
                continue
            seeds = (_seeds(m.seeds, f"{path}: methods entry {m.name}: seeds") if "seeds" in m.model_fields_set
                     else _seeds(d.seeds, f"{path}: datasets entry {d.name}: seeds") if "seeds" in d.model_fields_set
                     else file_seeds)
            where = f"{path}: methods entry {i} ({m.name}) on datasets entry {j} ({d.name})"
            cells += [Cell(m.name, d.name, seeds, m.profile or sweep.profile, overrides, data_over, where)
                      for overrides in _grid(m.params)]
    return Sweep(sweep.name or path.stem, path, plan_cells(reg, cells),
                 sweep.cluster, {d.name: d.source for d in datasets if d.source})
