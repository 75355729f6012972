"""INR zoos: one independently fitted SIREN per sample (and view), stored as shards.

A zoo is identified by a hash of everything that determines it (data set, split
part, SIREN layout, fitting recipe, views, seed), so every method and run seed
that needs the same zoo shares it. Each shard is written atomically with its
checksum in a sidecar file; fitting resumes at the missing or corrupt shards, and
disjoint shard lists can be fitted by independent workers (a SLURM array).
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from wsbench.core.contracts import HeldOutSplit, Split
from wsbench.core.errors import UserError
from wsbench.core.fileio import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from wsbench.data.fields import field_of
from wsbench.inr.fit import fit_in_chunks
from wsbench.inr.siren import INIT_SCHEMES, SirenLayout
from wsbench.core.timing import Clock
from wsbench.train.compiled import require_compiler

# 2: independent initialisations keyed by (seed, part, sample, view), so validation and
#    test INR i no longer start from the weights of training INR i; shards record CPU seconds.
# 3: the spec's fields carry the recipe's names (wsbench.zoo.recipe.RECIPE).
ZOO_VERSION = 3
PARTS = ("train", "val", "test")
INITS = ("independent", "shared")
# Fields added after version 3, with the value that means "as before": they enter the id
# only when set otherwise, so the zoos fitted before they existed keep their ids.
ADDED_LATER = {"inr_queries": 0, "inr_compile": False}


@dataclass(frozen=True)
class ZooSpec:
    """One zoo: a part of a data set and a recipe (the fields named as in RECIPE)."""

    dataset: str
    data_checksums: dict          # the content of the data set, so zoos follow the data, not its name
    part: str                     # "train", "val" or "test"
    widths: tuple[int, ...] = (2, 32, 32, 1)  # the full SIREN: inputs, inr_hidden, outputs
    inr_w0: float = 30.0
    inr_steps: int = 1000
    inr_lr: float = 5e-4
    inr_psnr_stop: float | None = 40.0
    inr_offset: float = 0.0       # DWSNet's +0.5 output quirk when 0.5
    inr_init: str = "independent"  # or "shared": one initialisation for every INR
    inr_init_scheme: str = "siren"  # or "dwsnet": the init of DWSNet's INR set (siren.SirenLayout.init_bounds)
    inr_views: int = 1            # fits from different initialisations per sample
    inr_train_limit: int = 0      # fit only the first N samples of the part (0: all)
    inr_seed: int = 0
    inr_queries: int = 0          # queries (pixels, UDF points) per fitting step (0: all)
    inr_compile: bool = False     # loss and gradient compiled (inr.fit.compiled_loss): not bit-identical
    shard_size: int = 1024        # INRs per stored shard (storage only; part of the id as it names the files)

    @property
    def zoo_id(self) -> str:
        doc = {key: value for key, value in asdict(self).items()
               if not (key in ADDED_LATER and value == ADDED_LATER[key])}
        doc["version"] = ZOO_VERSION
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def layout(self) -> SirenLayout:
        return SirenLayout(tuple(self.widths), self.inr_w0)


class Zoo:
    """The shards of one ZooSpec under DATA_ROOT/zoos/<zoo id>/."""

    def __init__(self, spec: ZooSpec, data_root: Path, split: Split | HeldOutSplit, modality: str):
        if spec.inr_init not in INITS:
            raise UserError(f"zoo inr_init {spec.inr_init!r}: choose {' or '.join(INITS)}")
        if spec.part not in PARTS:
            raise UserError(f"zoo part {spec.part!r}: choose {', '.join(PARTS)}")
        if spec.inr_init_scheme not in INIT_SCHEMES:
            raise UserError(f"zoo inr_init_scheme {spec.inr_init_scheme!r}: choose {' or '.join(INIT_SCHEMES)}")
        self.spec, self.split, self.modality = spec, split, modality
        self.folder = data_root / "zoos" / spec.zoo_id
        n = len(split) if not spec.inr_train_limit else min(spec.inr_train_limit, len(split))
        self.items = [(i, v) for v in range(spec.inr_views) for i in range(n)]  # (sample, view)
        self.num_shards = -(-len(self.items) // spec.shard_size)

    def shard_path(self, k: int) -> Path:
        return self.folder / f"shard-{k:05d}.npz"

    def shard_ok(self, k: int) -> bool:
        """A shard counts only if its sidecar exists and its checksum matches."""
        side = self.shard_path(k).with_suffix(".json")
        try:
            expected = json.loads(side.read_text())["sha256"]
            return sha256_file(self.shard_path(k)) == expected
        except (OSError, ValueError, KeyError):
            return False

    def missing(self) -> list[int]:
        return [k for k in range(self.num_shards) if not self.shard_ok(k)]

    def init_weights(self, items: list[tuple[int, int]]) -> torch.Tensor:
        """Initialisations that depend only on (seed, part, sample, view), never on the
        sharding; a shared initialisation is one for every INR of every part, by design."""
        layout = self.spec.layout
        if self.spec.inr_init == "shared":
            return layout.init(1, torch.Generator().manual_seed(self.spec.inr_seed),
                               self.spec.inr_init_scheme).expand(len(items), -1)
        part = PARTS.index(self.spec.part)
        return torch.cat([layout.init(1, torch.Generator().manual_seed(
            int(np.random.default_rng([self.spec.inr_seed, part, i, v]).integers(2**62))), self.spec.inr_init_scheme)
            for i, v in items])

    def query_order(self, field, device: torch.device) -> torch.Tensor | None:
        """The order in which fitting steps visit the queries (inr_queries per step): one
        permutation from the zoo seed, the same for every INR of every part."""
        if not self.spec.inr_queries:
            return None
        gen = torch.Generator().manual_seed(self.spec.inr_seed)
        return torch.randperm(field.num_queries, generator=gen).to(device)

    def fit(self, shards: list[int] | None = None, device: torch.device = torch.device("cpu"),
            progress=None) -> list[int]:
        """Fit the given (default: missing) shards; return the shards fitted. A shard that
        another worker finished meanwhile is skipped, so workers can share one zoo."""
        atomic_write_json(self.folder / "manifest.json", {"zoo_id": self.spec.zoo_id, "spec": asdict(self.spec),
                                                          "items": len(self.items), "shards": self.num_shards})
        todo = self.missing() if shards is None else [k for k in shards if not self.shard_ok(k)]
        if todo and self.spec.inr_compile:
            require_compiler(device, "inr_compile=false (--zoo-param or --param)")
        fitted = []
        for k in (progress(todo, desc="zoo shards", unit="shard") if progress else todo):
            if self.shard_ok(k):
                continue
            fitted.append(k)
            items = self.items[k * self.spec.shard_size:(k + 1) * self.spec.shard_size]
            samples = torch.tensor([i for i, _ in items])
            field = field_of(self.split.subset(samples), self.modality).to(device)
            clock = Clock()
            weights, quality = fit_in_chunks(self.spec.layout, field, self.init_weights(items).to(device),
                                             self.spec.inr_steps, self.spec.inr_lr, self.spec.inr_psnr_stop,
                                             self.spec.inr_offset, query_order=self.query_order(field, device),
                                             per_step=self.spec.inr_queries, compiled=self.spec.inr_compile)
            buffer = io.BytesIO()
            np.savez(buffer, weights=weights.cpu().numpy(), psnr=quality.cpu().numpy(),
                     sample=samples.numpy(), view=np.array([v for _, v in items]))
            data = buffer.getvalue()
            atomic_write_bytes(self.shard_path(k), data)
            took = clock.elapsed()
            atomic_write_json(self.shard_path(k).with_suffix(".json"), {
                "sha256": sha256_bytes(data), "count": len(items), "seconds": took["wall_s"],
                "cpu_seconds": took["cpu_s"],
                "psnr_mean": float(quality.mean()), "psnr_min": float(quality.min())})
        return fitted

    def load(self) -> dict[str, np.ndarray]:
        """All shards concatenated: weights (M, P), psnr, sample and view of each INR."""
        missing = self.missing()
        if missing:
            raise UserError(f"zoo {self.spec.zoo_id} at {self.folder} lacks {len(missing)} of {self.num_shards} "
                            f"shards (missing or corrupt: {missing[:5]}...); run `wsbench zoo fit` to finish it")
        parts = [np.load(self.shard_path(k)) for k in range(self.num_shards)]
        return {key: np.concatenate([p[key] for p in parts]) for key in ("weights", "psnr", "sample", "view")}

    def statistics(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Mean and std (2, P) of each weight matrix and bias vector over this zoo, broadcast
        to its entries (`tensor_statistics`).

        One scalar per tensor, not per entry: per-entry statistics would differ
        between neurons of a layer and break the permutation symmetry. Pass the
        weights when they are loaded already, to spare reading the shards again.
        """
        tensors = self.tensor_statistics(weights)
        return np.stack([np.concatenate([np.full(t["size"], t[key], np.float32) for t in tensors])
                         for key in ("mean", "std")])

    def tensor_statistics(self, weights: np.ndarray | None = None) -> list[dict]:
        """[{name (W0, b0, W1, ...), size, mean, std (unbiased, at least 1e-8)}] of each weight
        matrix and bias vector over this zoo, in layer order; computed once and stored beside
        the shards (statistics.json)."""
        path = self.folder / "statistics.json"
        shards = [json.loads(self.shard_path(k).with_suffix(".json").read_text())["sha256"]
                  for k in range(self.num_shards)]
        try:
            doc = json.loads(path.read_text())
            if doc["shards"] != shards:
                raise ValueError("stale")
        except (OSError, ValueError, KeyError):
            weights = self.load()["weights"] if weights is None else weights
            doc, start = {"shards": shards, "tensors": []}, 0
            for k, (o, i) in enumerate(self.spec.layout.layer_shapes):
                for name, size in ((f"W{k}", o * i), (f"b{k}", o)):
                    part = weights[:, start:start + size]
                    doc["tensors"].append({"name": name, "size": size, "mean": float(part.mean()),
                                           "std": max(float(part.std(ddof=1)), 1e-8)})
                    start += size
            atomic_write_json(path, doc)
        return doc["tensors"]

    def cost(self) -> dict[str, float]:
        """Wall and CPU seconds that fitting this complete zoo's shards took, whichever process
        fitted them: the shared cost every run that uses the zoo carries. Reads the sidecars
        only (`load` has verified the shards)."""
        sides = [json.loads(self.shard_path(k).with_suffix(".json").read_text()) for k in range(self.num_shards)]
        return {"wall_s": round(sum(s["seconds"] for s in sides), 2),
                "cpu_s": round(sum(s["cpu_seconds"] for s in sides), 2)}

    def info(self) -> dict:
        sides = [json.loads(self.shard_path(k).with_suffix(".json").read_text())
                 for k in range(self.num_shards) if self.shard_ok(k)]
        return {"zoo_id": self.spec.zoo_id, "folder": str(self.folder), "inrs": len(self.items),
                "shards_done": len(sides), "shards": self.num_shards,
                "psnr_mean": float(np.average([s["psnr_mean"] for s in sides], weights=[s["count"] for s in sides]))
                if sides else None,
                "fit_seconds": round(sum(s["seconds"] for s in sides), 1), "spec": asdict(self.spec)}
