"""The contracts between the harness and its plugins (methods and data sets).

Plugins are plain files in methods/ and datasets/; each defines one subclass of
Method or Dataset. The harness owns seeds, splits, scoring and records, so a
plugin only turns data into predictions (methods) or files into arrays (data sets).
Plugins import these names from `wsbench.api`, the stable path; this module may move.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from wsbench.core.errors import DataNotPrepared, ProtocolViolation
from wsbench.core.params import Param
from wsbench.inr.siren import SirenLayout

if TYPE_CHECKING:
    from wsbench.core.context import RunContext


# Every shape lies in the unit ball; UDF queries and surface recovery start in the cube
# [-SHAPE_BOUND, SHAPE_BOUND]^3 around it.
SHAPE_BOUND = 1.1


@dataclass
class Split:
    """One split of a data set, with its labels (what data sets load and the harness keeps).

    x: images (N, H, W, C) float32 in [0, 1], or point clouds (N, P, 3) float32 in
    the unit ball; y: (N,) int64 class indices in [0, num_classes). Point clouds also
    carry the query bank of their unsigned distance functions: coords (N, Q, 3) and
    values (N, Q, 1) float32.
    """

    x: torch.Tensor
    y: torch.Tensor
    coords: torch.Tensor | None = None
    values: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: torch.Tensor) -> "Split":
        return Split(self.x[idx], self.y[idx], *((self.coords[idx], self.values[idx])
                                                 if self.coords is not None else ()))

    def without_labels(self, name: str) -> "HeldOutSplit":
        return HeldOutSplit(name, self.x, self.coords, self.values)


@dataclass
class HeldOutSplit:
    """A validation or test split as a method receives it: the signals, not the labels.

    The labels stay with the harness, which scores the predictions; reading `y`
    raises, and the run ends `failed`, so no method can train, select or stop on them.
    """

    name: str
    x: torch.Tensor
    coords: torch.Tensor | None = None
    values: torch.Tensor | None = None

    @property
    def y(self) -> torch.Tensor:
        raise ProtocolViolation(f"the labels of the {self.name} split stay with the harness; a method "
                                f"gets only the training labels (data.train.y)")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: torch.Tensor) -> "HeldOutSplit":
        return HeldOutSplit(self.name, self.x[idx], *((self.coords[idx], self.values[idx])
                                                      if self.coords is not None else ()))


@dataclass
class DataSplits:
    """Fixed train/val/test splits of one data set. `modality` is "image" or "pointcloud".

    Data sets return all three splits with labels; a method receives `blind()`:
    the training split with labels, validation and test as HeldOutSplit.
    """

    name: str
    modality: str
    num_classes: int
    train: Split
    val: Split | HeldOutSplit
    test: Split | HeldOutSplit
    checksums: dict[str, str] = field(default_factory=dict)
    # cost of derived data shared between runs (UDF banks): name -> {wall_s, cpu_s, here_wall_s, here_cpu_s}
    shared_costs: dict[str, dict[str, float]] = field(default_factory=dict)

    def blind(self) -> "DataSplits":
        return replace(self, val=self.val.without_labels("validation"), test=self.test.without_labels("test"))


@dataclass
class HeadResult:
    """Per-epoch predicted labels of one classifier head on val and test.

    Each entry is a 1-D integer array with one class index in [0, num_classes) per
    sample of the split, in split order; epochs count from 1 in the record. The
    harness checks every array, picks the epoch with the best validation accuracy
    and reports the test accuracy of that epoch, so every method is selected and
    scored alike.
    """

    val_pred: list[np.ndarray]
    test_pred: list[np.ndarray]
    num_params: int = 0
    # What the head classifies, one vector per sample, for comparing what methods learned
    # (`wsbench similarity`): {"val": (N_val, D), "test": (N_test, D)} float arrays, the
    # classifier's features before its last layer at its last epoch, or the latents a
    # feature head classifies. Kept as float16 beside the predictions; may stay empty.
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Reconstruction:
    """The INRs a method represents the test samples with, in split order: flat SIREN
    weights (N_test, P) of `layout`, whose outputs plus `offset` approximate the
    signals. The harness scores them with one scheme for every method
    (wsbench.core.reconstruction)."""

    layout: SirenLayout
    test_weights: torch.Tensor
    offset: float = 0.0


@dataclass
class MethodOutput:
    heads: dict[str, HeadResult]
    metrics: dict[str, float] = field(default_factory=dict)
    num_params: dict[str, int] = field(default_factory=dict)
    reconstruction: Reconstruction | None = None


class Plugin(ABC):
    """`version` is part of every run's identity: bump it whenever a change alters what
    the plugin computes (a method's predictions, a data set's arrays), so that records
    of the old code are neither reused nor averaged with new ones. The fingerprint
    test (tests/test_contract.py) fails when a method's smoke-profile predictions
    change while its version stays."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[int] = 1
    params: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs):
        """Refuse a parameter whose `when` names no declared parameter or no value it allows."""
        super().__init_subclass__(**kwargs)
        for key, spec in cls.params.items():
            other = cls.params.get(spec.when[0]) if spec.when is not None else None
            if spec.when is not None and (other is None or type(spec.when[1]) is not other.type
                                          or other.problem(spec.when[1]) is not None):
                raise TypeError(f"{cls.__name__}: parameter {key!r} takes effect when {spec.when[0]}="
                                f"{spec.when[1]!r}, which is not a declared parameter and a value it allows")


class Method(Plugin):
    """A weight-space method: from data splits to per-epoch predictions of its heads.

    `profiles` maps a profile name ("quick" for a 2-core CPU, "paper" following
    the paper on a GPU) to parameter overrides on top of the declared defaults.
    """

    modalities: ClassVar[tuple[str, ...]] = ("image",)
    # False for a reference baseline that works on the signal itself (pixels, points):
    # every table marks it, so it is never read as a weight-space result.
    weight_space: ClassVar[bool] = True
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}
    # True where the shared work splits into independent pieces (`do_shared_work`)
    shared_work_splits: ClassVar[bool] = False

    def unsupported(self, modality: str, params: dict[str, Any]) -> str | None:
        """Why this method cannot run on data of this modality with these parameters
        (the run is recorded as skipped), or None."""
        if modality not in self.modalities:
            return f"{self.name} handles {', '.join(self.modalities)} data, not {modality}"
        return None

    @abstractmethod
    def run(self, data: DataSplits, params: dict[str, Any], ctx: "RunContext") -> MethodOutput:
        """Represent the splits, train the heads, return their per-epoch predictions."""

    def shared_work(self, params: dict[str, Any], seed: int) -> dict[str, Any] | None:
        """A plain (JSON) description of work this run shares with other runs, such as an
        INR zoo's recipe, made without loading any data; None when there is none. A sweep
        does each distinct description once, on one data set, in a stage before the runs
        (`do_shared_work`), so the runs find it done."""
        return None

    def do_shared_work(self, data: DataSplits, work: dict[str, Any], ctx: "RunContext",
                       piece: int = 0, pieces: int = 1) -> None:
        """Do the shared work `shared_work` described, on the loaded data (a stage's job).
        A method whose work splits into independent parts (an INR zoo's shards) sets
        `shared_work_splits`; a sweep then runs `pieces` jobs, and job `piece` does its
        share of the work (piece k of n), so the stage takes about 1/n of the time."""


class Dataset(Plugin):
    """A data set: `load` cheaply and offline from the data root. One that needs files
    first subclasses wsbench.data.store.StoredDataset, which alone knows where prepared
    files live and whether they are there (`prepare` is the only step allowed to read a
    source or the network)."""

    modality: ClassVar[str] = "image"
    needs_prepare: ClassVar[bool] = False
    writes_data_root: ClassVar[bool] = False  # `load` caches derived data there (UDF banks)
    prepare_hint: ClassVar[str] = ""

    def prepare(self, root: Path, source: Path | None, params: dict[str, Any]) -> None:
        """Write the prepared files under root (atomically). Default: nothing to do."""

    @abstractmethod
    def load(self, root: Path, params: dict[str, Any]) -> DataSplits:
        """Read the prepared data from root; fast and offline."""

    def is_prepared(self, root: Path) -> bool:
        """Whether `load` can work offline (a data set that needs no files always can)."""
        return True

    def require_prepared(self, root: Path) -> None:
        if not self.is_prepared(root):
            raise DataNotPrepared(f"data set {self.name!r} is not prepared under {root}; run "
                                  f"`wsbench prepare {self.name} --from DIR`{self.prepare_hint}")
