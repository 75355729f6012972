"""The paired comparisons of a data set's rows, for the results page and the markdown
report alike: every row against the row with the best mean validation accuracy (so the
reference is not chosen on test), by McNemar's exact test (wsbench.report.stats)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from wsbench.report import stats
from wsbench.report.tables import FORMATS, aggregate, config_labels, dedupe, group_key, row_name

NOTE = ("The row with the best mean validation accuracy against every other row: McNemar's exact test on the "
        "per-sample test predictions of the same seed, discordant counts summed over the seeds both ran, "
        "p-values Holm-corrected within this data set.")


def comparisons(records: list[dict], agg: pd.DataFrame, results: Path) -> tuple[str, list[stats.Comparison]]:
    """McNemar's test of every row against the row with the best mean validation accuracy,
    closest rivals (largest p) first; `records` are the deduplicated records `agg` was made
    from (so their labels agree)."""
    scored = agg[~agg.test_mean.isna()]
    if scored.empty:
        return "", []
    best = scored.loc[scored.val_mean.idxmax()]
    # a run is paired only with the reference's run of its seed scored on the same test labels
    # (other data parameters: other test samples)
    test_labels = {r["seed"]: r["labels"]["file"] for r in records
                   if r["status"] == "ok" and group_key(r) == best.key}
    correct: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    names: dict[tuple[str, str], str] = {}
    for r, config in zip(records, config_labels(records)):
        if r["status"] != "ok" or r["labels"]["file"] != test_labels.get(r["seed"]):
            continue
        for head, s in (r.get("heads") or {}).items():
            if "test_acc" in s:
                names[group_key(r), head] = row_name(r["method"], config, head)
                correct.setdefault((group_key(r), head), {})[r["seed"]] = stats.correct_on_test(r, head, results)
    reference = correct.pop((best.key, best["head"]))
    found = stats.compare(reference, {names[k]: v for k, v in correct.items()})
    return names[best.key, best["head"]], sorted(found, key=lambda c: (-c.p_holm, -c.other_only, c.other))


def p_value(p: float) -> str:
    """Three digits; a p-value below float64's range (counts of thousands) is not printed as 0."""
    return f"{p:.3g}" if p > 0 else "< 1e-300"


def comparison_table(reference: str, found: list[stats.Comparison]) -> pd.DataFrame:
    return pd.DataFrame([{"reference row": reference, "compared with": c.other,
                          "seeds": ", ".join(map(str, c.seeds)),
                          "reference right, other wrong": c.reference_only,
                          "other right, reference wrong": c.other_only,
                          "p (exact McNemar)": p_value(c.p), "p (Holm)": p_value(c.p_holm),
                          "differs at 5%": "yes" if c.p_holm < 0.05 else "no"} for c in found])


def render_comparisons(records: list[dict], results: Path, fmt: str = "markdown") -> str:
    """Each data set's comparisons as a headed text table ("" where no data set has two rows);
    tuning runs are left out, as in the main table."""
    records = [r for r in records if not r.get("tune")]
    parts = []
    for dataset in sorted({r["dataset"] for r in records}):
        chosen = [r for r in records if r["dataset"] == dataset]
        reference, found = comparisons(dedupe(chosen), aggregate(chosen), results)
        if found:
            heading = f"## Paired comparisons on {dataset}" if fmt == "markdown" else f"Paired comparisons on {dataset}"
            table = tabulate(comparison_table(reference, found), headers="keys", tablefmt=FORMATS[fmt],
                             showindex=False)
            parts.append(f"{heading}\n\n{NOTE}\n\n{table}")
    return "\n\n".join(parts)
