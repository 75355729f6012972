"""A run's spec, its identity and the one planner.

A spec is everything that determines a run's numbers (method and data set with their
resolved parameters, plugin versions, protocol, seed, tuning or not); its identity's
hash names the run and its record. Parameters at their legacy value (core.params) are
left out of the identity. `plan_cells` turns requested cells (a method on a data set
over seeds, with parameter overrides) into specs for `wsbench run` and for sweep files
alike, and refuses a run planned twice.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from wsbench.core import params as P
from wsbench.core.discovery import Registry
from wsbench.core.errors import UserError
from wsbench.core.protocol import PROTOCOL_VERSION

IDENTITY_KEYS = ("method", "params", "dataset", "data_params", "seed", "protocol", "versions", "tune")


def run_identity(method: str, params: dict, dataset: str, data_params: dict, seed: int,
                 versions: dict[str, int], tune: bool) -> dict:
    """Everything that determines a run's numbers; its hash names the record."""
    return {"method": method, "params": params, "dataset": dataset, "data_params": data_params,
            "seed": seed, "protocol": PROTOCOL_VERSION, "versions": versions, "tune": tune}


def run_id(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    method: str
    dataset: str
    seed: int
    profile: str
    params: dict
    data_params: dict
    versions: dict = field(default_factory=dict)  # {"method": N, "dataset": N}
    tune: bool = False  # score validation only: no test accuracy, in no table
    at_legacy: tuple = ()  # method parameters at their legacy value: not part of the identity

    @property
    def identity(self) -> dict:
        params = {k: v for k, v in self.params.items() if k not in self.at_legacy}
        return run_identity(self.method, params, self.dataset, self.data_params, self.seed,
                            self.versions, self.tune)

    @property
    def run_id(self) -> str:
        return run_id(self.identity)

    def to_dict(self) -> dict:
        """Plain JSON values: what crosses into a run's process or job."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> RunSpec:
        return cls(**{**doc, "at_legacy": tuple(doc.get("at_legacy", ()))})


@dataclass(frozen=True)
class Cell:
    """A method on a data set over seeds, with overrides of the profile's parameters (as
    --param strings) and of the data set's; `where` names its origin in error messages."""

    method: str
    dataset: str
    seeds: list[int]
    profile: str
    overrides: dict[str, str]
    data_overrides: dict[str, str]
    where: str


def plan_cells(reg: Registry, cells: list[Cell], tune: bool = False) -> list[RunSpec]:
    """Every run of these cells with its fully resolved, validated parameters, in order; a
    run that two cells plan (the same identity) is refused, naming both."""
    specs: dict[str, tuple[RunSpec, Cell]] = {}
    for cell in cells:
        dparams = P.resolve(reg.dataset(cell.dataset), cell.data_overrides)
        mparams = P.resolve(reg.method(cell.method), cell.overrides, cell.profile, cell.dataset,
                            reg.dataset(cell.dataset).modality)
        versions = {"method": reg.method(cell.method).version, "dataset": reg.dataset(cell.dataset).version}
        at_legacy = tuple(sorted(set(mparams) - set(P.identity_params(reg.method(cell.method).params, mparams))))
        for seed in cell.seeds:
            spec = RunSpec(cell.method, cell.dataset, seed, cell.profile, mparams, dparams, versions, tune, at_legacy)
            if spec.run_id in specs:
                raise UserError(f"{cell.where} plans {cell.method} on {cell.dataset} seed {seed} with the "
                                f"same parameters as {specs[spec.run_id][1].where}; plan each run once")
            specs[spec.run_id] = (spec, cell)
    return [spec for spec, _ in specs.values()]


def plan(reg: Registry, methods: list[str], datasets: list[str], seeds: list[int], profile: str,
               overrides: list[str], data_overrides: list[str], tune: bool = False) -> list[RunSpec]:
    """The runs `wsbench run` names by its flags: every method on every data set."""
    for flag, names in (("--method", methods), ("--dataset", datasets)):
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise UserError(f"{flag} {repeated[0]} is given twice; name each once")
    method_over = P.parse_assignments(overrides, "--param")
    data_over = P.parse_assignments(data_overrides, "--data-param")
    return plan_cells(reg, [Cell(m, d, seeds, profile, method_over, data_over, f"--method {m} --dataset {d}")
                      for d in datasets for m in methods], tune)
