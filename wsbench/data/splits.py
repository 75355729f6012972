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


def read_split(path: Path, size: int | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Index arrays by part name and their checksum; a tampered file is refused, and so are
    indices that are not whole numbers, repeat, or (with `size`, the samples they pick
    from) fall outside [0, size)."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as err:
        raise UserError(f"split file {path}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:
        raise UserError(f"split file {path}: not JSON ({err})") from None
    if not isinstance(doc, dict) or not {"indices", "sha256"} <= set(doc):
        raise UserError(f"split file {path}: expected a JSON object with `indices` (part -> list of sample "
                        f"indices) and `sha256`")
    indices, expected = doc["indices"], doc["sha256"]
    if not isinstance(indices, dict) or not all(isinstance(v, list) for v in indices.values()):
        raise UserError(f"split file {path}: `indices` must map each part to a list of sample indices")
    if indices_checksum(indices) != expected:
        raise UserError(f"split file {path}: checksum mismatch; the file was edited or corrupted")
    parts = {}
    for part, values in indices.items():
        if wrong := [v for v in values if type(v) is not int][:1]:
            raise UserError(f"split file {path}: part {part!r} holds {wrong[0]!r}, not a sample index")
        parts[part] = array = np.asarray(values, dtype=np.int64)
        if len(array) and array.min() < 0:
            raise UserError(f"split file {path}: part {part!r} holds the negative index {array.min()}")
        if len(array) and size is not None and array.max() >= size:
            raise UserError(f"split file {path}: part {part!r} holds index {array.max()}, but the data has "
                            f"{size} samples (indices 0-{size - 1})")
        values, counts = np.unique(array, return_counts=True)
        if (counts > 1).any():
            raise UserError(f"split file {path}: part {part!r} holds index {values[counts > 1][0]} more than once")
    return parts, expected


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
