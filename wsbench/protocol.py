"""The stated protocol: seeding, model selection and scoring, the same for every method."""
from __future__ import annotations

import random

import numpy as np
import torch

from wsbench.api import HeadResult

# Bump when a change alters what a run computes (splits, selection, scoring):
# it is part of every run's identity, so old records are not mistaken for new ones.
PROTOCOL_VERSION = 1


def seed_everything(seed: int) -> None:
    """The run seed determines all randomness of a run: Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def score_head(head: HeadResult, y_val: np.ndarray, y_test: np.ndarray) -> dict:
    """Top-1 test accuracy at the epoch of best validation accuracy (the first, on ties)."""
    if not head.val_pred or len(head.val_pred) != len(head.test_pred):
        raise ValueError("a head must give val and test predictions for the same epochs")
    val = [float(np.mean(np.asarray(p) == y_val)) for p in head.val_pred]
    best = int(np.argmax(val))
    return {
        "val_acc": val[best],
        "test_acc": float(np.mean(np.asarray(head.test_pred[best]) == y_test)),
        "best_epoch": best + 1,
        "epochs": len(val),
        "num_params": head.num_params,
    }
