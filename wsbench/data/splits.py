"""Fixed split files stored in the repository, each guarded by a checksum.

A split never depends on the run seed: it is drawn once with a stated seed,
written as sorted index lists, and verified on every load.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wsbench.core.errors import UserError
from wsbench.core.fileio import atomic_write_json, sha256_bytes


def indices_checksum(indices: dict[str, list[int]]) -> str:
    return sha256_bytes(json.dumps(indices, sort_keys=True).encode())


def write_split(path: Path, indices: dict[str, np.ndarray], how: str) -> None:
    clean = {k: sorted(int(i) for i in v) for k, v in indices.items()}
    atomic_write_json(path, {"how": how, "sha256": indices_checksum(clean), "indices": clean}, indent=None)


def read_split(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """Index arrays by part name and their checksum; a tampered file is refused."""
    try:
        doc = json.loads(Path(path).read_text())
        indices, expected = doc["indices"], doc["sha256"]
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"split file {path}: unreadable ({err})") from None
    if indices_checksum(indices) != expected:
        raise UserError(f"split file {path}: checksum mismatch; the file was edited or corrupted")
    return {k: np.asarray(v, dtype=np.int64) for k, v in indices.items()}, expected


def holdout(n: int, n_val: int, seed: int) -> np.ndarray:
    """A uniform validation draw of n_val of n indices (independent of the data's content)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:n_val])


def per_class_holdout(labels: np.ndarray, seed: int) -> np.ndarray:
    """A tenth of each class's indices, rounded up so every class is validated.

    Classes in label order, each drawn with `choice(its indices, k, replace=False)`
    from one `default_rng(seed)`; depends only on the labels' order, not the content.
    """
    rng = np.random.default_rng(seed)
    picks = [rng.choice(idx, -(-len(idx) // 10), replace=False)
             for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(picks))


def complement(n: int, taken: np.ndarray) -> np.ndarray:
    """The indices of range(n) not in `taken`: the training part of a holdout split."""
    return np.setdiff1d(np.arange(n), taken)
