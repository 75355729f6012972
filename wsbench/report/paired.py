"""The paired comparisons of a data set's rows, for the results page and the markdown
report alike: every row against the row with the best mean validation accuracy (so the
reference is not chosen on test), by McNemar's exact test (wsbench.report.stats)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wsbench.report import stats
from wsbench.report.tables import YOURS, config_labels, dedupe, group_key, row_name

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


# what each column of the comparison tables means, for the report's legend
LEGEND = {
    "reference row": "the data set's row with the best mean validation accuracy",
    "your row": "one of your rows",
    "compared with": "another row of the data set",
    "seeds": "the seeds both rows ran on the same test split",
    "reference right, other wrong": "test samples only the first row got right, summed over those seeds",
    "other right, reference wrong": "test samples only the second row got right",
    "yours right, other wrong": "test samples only your row got right, summed over those seeds",
    "other right, yours wrong": "test samples only the reference row got right",
    "p (exact McNemar)": "two-sided exact McNemar test of equal accuracy on those samples",
    "p (Holm)": "Holm-corrected over the comparisons of the first row on this data set",
    "differs at 5%": "whether p (Holm) is below 0.05",
}
YOURS_NOTE = ("Each of your rows against every reference row that ran one of its seeds on the same test split "
              "(the same labels): McNemar's exact test on the per-sample test predictions of the same seed, "
              "discordant counts summed over the seeds both ran, p-values Holm-corrected over your row's "
              "comparisons. The reference is read, not rerun.")


def _correct_by_row(records: list[dict], results: Path, suffix: str = "") -> dict[str, dict[int, tuple]]:
    """row name -> seed -> (test labels file, per-sample correctness) of every scored head."""
    rows: dict[str, dict[int, tuple]] = {}
    for r, config in zip(records, config_labels(records)):
        for head, s in (r.get("heads") or {}).items() if r["status"] == "ok" else ():
            if "test_acc" in s:
                rows.setdefault(row_name(r["method"], config, head) + suffix, {})[r["seed"]] = (
                    r["labels"]["file"], stats.correct_on_test(r, head, results))
    return rows


def against_reference(yours: list[dict], yours_dir: Path, reference: list[dict], reference_dir: Path
                      ) -> list[tuple[str, list[stats.Comparison]]]:
    """Of one data set's records: each of the user's rows against every reference row that ran
    one of its seeds on the same test labels, closest rivals first."""
    mine = _correct_by_row(dedupe(yours), yours_dir, YOURS)
    seeds = {s for runs in mine.values() for s in runs}
    theirs = _correct_by_row([r for r in dedupe(reference) if r["seed"] in seeds], reference_dir)
    out = []
    for name, runs in mine.items():
        others = {other: {s: c for s, (labels, c) in their.items() if s in runs and runs[s][0] == labels}
                  for other, their in theirs.items()}
        found = stats.compare({s: c for s, (_, c) in runs.items()}, others)
        if found:
            out.append((name, sorted(found, key=lambda c: (-c.p_holm, -c.other_only, c.other))))
    return out


def yours_table(name: str, found: list[stats.Comparison]) -> pd.DataFrame:
    """comparison_table with the user's row first."""
    return comparison_table(name, found).rename(columns={
        "reference row": "your row", "reference right, other wrong": "yours right, other wrong",
        "other right, reference wrong": "other right, yours wrong"})
