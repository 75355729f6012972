"""The stated protocol: seeding, prediction checks, model selection and scoring, the same
for every method."""
from __future__ import annotations

import random

import numpy as np
import torch

from wsbench.core.contracts import HeadResult
from wsbench.core.errors import ProtocolViolation

# Bump when a change alters what a run computes (splits, selection, scoring):
# it is part of every run's identity, so old records are not mistaken for new ones.
# 2: labels withheld from methods, predictions checked and kept, one reconstruction scheme.
PROTOCOL_VERSION = 2


def seed_everything(seed: int) -> None:
    """The run seed determines all randomness of a run: Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def label_dtype(num_classes: int) -> np.dtype:
    """The smallest unsigned type that holds every class index: predictions are stored in it."""
    return np.dtype(np.uint8 if num_classes <= 256 else np.uint16 if num_classes <= 65536 else np.uint32)


def nonfinite(array: np.ndarray) -> str | None:
    """What in a numeric array is not a finite number ("NaN (12 of 76800 values)"), or None."""
    if array.dtype.kind not in "fc":
        return None
    nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    parts = [f"{what} ({count} of {array.size} values)" for what, count in (("NaN", nan), ("infinities", inf))
             if count]
    return " and ".join(parts) or None


def checked_predictions(pred, n: int, num_classes: int, head: str, epoch: int, split: str) -> np.ndarray:
    """`pred` as a 1-D integer array of n class indices in [0, num_classes), or a
    ProtocolViolation that names the head, the epoch (from 1) and what is wrong."""
    where = f"head {head!r}, epoch {epoch}, {split} predictions"
    pred = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    if pred.ndim != 1:
        logits = pred.ndim == 2 and len(pred) == n and pred.shape[1] > 1
        raise ProtocolViolation(f"{where}: expected a 1-D array of {n} labels, got shape {pred.shape}"
                                + (" (logits? return their argmax over classes)" if logits else ""))
    if len(pred) != n:
        raise ProtocolViolation(f"{where}: expected {n} labels (one per sample), got {len(pred)}")
    if not np.issubdtype(pred.dtype, np.integer):
        bad = nonfinite(pred)
        raise ProtocolViolation(f"{where}: expected integer class indices, got dtype {pred.dtype}"
                                + (f" holding {bad}" if bad else ""))
    if n and (pred.min() < 0 or pred.max() >= num_classes):
        raise ProtocolViolation(f"{where}: class indices must lie in [0, {num_classes}), "
                                f"got values from {pred.min()} to {pred.max()}")
    return pred.astype(label_dtype(num_classes))


def select_epoch(val_curve: list[float]) -> int:
    """The epoch (from 0) with the best validation accuracy; the first on ties."""
    return int(np.argmax(val_curve))


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(pred.astype(np.int64) == labels.astype(np.int64)))


def score_head(name: str, head: HeadResult, y_val: np.ndarray, y_test: np.ndarray | None,
               num_classes: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Check a head's predictions, select its epoch on validation and score it.

    Returns the head's scores and the predictions to keep: validation of every
    epoch (E, N_val), and test of the selected epoch only (N_test,). With
    y_test None (a tuning run) no test accuracy is computed and no test
    prediction kept.
    """
    if not head.val_pred:
        raise ProtocolViolation(f"head {name!r}: no validation predictions")
    if len(head.val_pred) != len(head.test_pred):
        raise ProtocolViolation(f"head {name!r}: {len(head.val_pred)} epochs of validation predictions but "
                                f"{len(head.test_pred)} of test predictions")
    val = np.stack([checked_predictions(p, len(y_val), num_classes, name, e, "validation")
                    for e, p in enumerate(head.val_pred, 1)])
    curve = [accuracy(p, y_val) for p in val]
    best = select_epoch(curve)
    scores = {"val_acc": curve[best], "best_epoch": best + 1, "epochs": len(curve),
              "val_curve": [round(a, 6) for a in curve], "num_params": head.num_params}
    kept = {f"val:{name}": val}
    if y_test is not None:
        for e, p in enumerate(head.test_pred, 1):
            checked = checked_predictions(p, len(y_test), num_classes, name, e, "test")
            if e == best + 1:
                kept[f"test:{name}"] = checked
        scores["test_acc"] = accuracy(kept[f"test:{name}"], y_test)
    return scores, kept


# Embeddings wider than this are kept as their leading principal components (fitted on
# validation), so that a run's file stays near 2 MB on MNIST's 15,000 held-out samples.
EMBEDDING_WIDTH = 64


def principal_components(val: np.ndarray, width: int) -> np.ndarray:
    """The `width` leading principal axes of the validation embeddings, (D, width), each
    signed so that the projected validation values have a positive third moment: a rule
    that depends on the samples only, so a rotated copy of an embedding projects to the
    same coordinates."""
    centred = val - val.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:width].T
    signs = np.where(((centred @ axes) ** 3).sum(0) < 0, -1.0, 1.0)
    return axes * signs


def checked_embeddings(name: str, head: HeadResult, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """A head's embeddings of the splits in `sizes` (split -> samples) as float16 arrays of
    one width, at most EMBEDDING_WIDTH, or a ProtocolViolation that names the head and what
    is wrong; none when the head keeps none. A tuning run passes only the validation split."""
    if not head.embeddings:
        return {}
    if missing := [s for s in ("val", "test") if s not in head.embeddings]:
        raise ProtocolViolation(f"head {name!r}: embeddings of {' and '.join(missing)} missing; keep both or none")
    arrays = {}
    for split, n in sizes.items():
        array = head.embeddings[split]
        array = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        where = f"{split} embeddings of head {name!r}"
        if array.dtype.kind != "f":
            raise ProtocolViolation(f"{where}: expected a float array, got dtype {array.dtype}")
        if array.ndim != 2 or len(array) != n:
            raise ProtocolViolation(f"{where}: expected shape ({n}, D), one vector per sample, "
                                    f"got shape {array.shape}")
        if bad := nonfinite(array):
            raise ProtocolViolation(f"{where} hold {bad}")
        arrays[split] = array.astype(np.float64)
    if len({a.shape[1] for a in arrays.values()}) > 1:
        raise ProtocolViolation(f"head {name!r}: validation and test embeddings differ in width "
                                f"({', '.join(str(a.shape[1]) for a in arrays.values())})")
    if arrays["val"].shape[1] > EMBEDDING_WIDTH:
        mean, axes = arrays["val"].mean(0), principal_components(arrays["val"], EMBEDDING_WIDTH)
        arrays = {split: (a - mean) @ axes for split, a in arrays.items()}
    if max(np.abs(a).max(initial=0) for a in arrays.values()) > np.finfo(np.float16).max:
        raise ProtocolViolation(f"head {name!r}: embeddings exceed float16's range (|x| > 65504)")
    return {f"{split}:{name}": a.astype(np.float16) for split, a in arrays.items()}
