"""Are two rows' differences real? McNemar's exact test on paired per-sample test
predictions, Holm-corrected within a data set.

Two runs are paired when they share the data set and the seed (the same test samples,
the same split): per sample, each is right or wrong. Only the discordant samples carry
information, b (the reference right, the other wrong) and c (the converse); under the
null hypothesis of equal accuracy each discordant sample is a fair coin, so
p = P(Binomial(b + c, 1/2) at least as far from (b + c)/2 as observed), two-sided
(scipy's `binomtest`). Counts are summed over the seeds both rows ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b and c (1 when both are 0)."""
    return 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error):
    the i-th smallest is multiplied by (m - i), made monotone, capped at 1. scipy ships
    only Benjamini-Hochberg (`false_discovery_control`), which controls another error."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted, running = np.empty(m), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


@dataclass
class Comparison:
    """The reference row against another row of the same data set."""

    other: str
    seeds: list[int]
    reference_only: int  # samples the reference got right and the other wrong (b)
    other_only: int  # the converse (c)
    p: float
    p_holm: float = float("nan")


def correct_on_test(record: dict, head: str, results: Path) -> np.ndarray:
    """Per test sample, whether the head's selected-epoch prediction is right."""
    with np.load(results / record["predictions"]["file"]) as pred, np.load(results / record["labels"]["file"]) as y:
        return pred[f"test:{head}"].astype(np.int64) == y["test"]


def compare(reference: dict[int, np.ndarray], others: dict[str, dict[int, np.ndarray]]) -> list[Comparison]:
    """McNemar's test of the reference row against each other row, on the seeds both ran
    (seed -> per-sample correctness), Holm-corrected over the rows that share a seed with it."""
    out = []
    for name, runs in others.items():
        seeds = sorted(set(runs) & set(reference))
        if not seeds:
            continue
        b = sum(int(np.sum(reference[s] & ~runs[s])) for s in seeds)
        c = sum(int(np.sum(~reference[s] & runs[s])) for s in seeds)
        out.append(Comparison(name, seeds, b, c, mcnemar_exact(b, c)))
    for comparison, adjusted in zip(out, holm([c.p for c in out])):
        comparison.p_holm = adjusted
    return out
