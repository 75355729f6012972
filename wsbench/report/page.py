"""`wsbench report --html DIR`: the results page, one static file with its PNGs beside it
(no server; it opens from disk). Per data set: the mean ± SE table with the published
references, a cost-vs-accuracy plot, McNemar comparisons against the row with the best
mean validation accuracy, the figures, and every planned cell that has no result, with
its reason; above them, the commits, machines and CPU time the records came from."""
from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from wsbench.core.fileio import atomic_write_bytes
from wsbench.report.figures import budget_curves, figures_for, plt, save_png
from wsbench.report.paired import NOTE, comparison_table, comparisons
from wsbench.report.authors import load_crosschecks
from wsbench.report.tables import aggregate, commit_label, dedupe, display_frame, row_name

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f0f0f0; }
tr.best td { font-weight: bold; }
img { max-width: 460px; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; }
.note { color: #555; font-size: 0.9em; }
"""


def _table(frame: pd.DataFrame, css: str) -> str:
    return frame.to_html(index=False, classes=css, na_rep="—", border=0, escape=True)


def cost_plot(agg: pd.DataFrame, title: str, path: Path) -> Path:
    """Test accuracy (mean ± SE over seeds) against the CPU time of the whole pipeline."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in agg.itertuples():
        if np.isnan(row.test_mean):
            continue
        baseline = bool(row.kind)
        ax.errorbar(row.cpu_s, 100 * row.test_mean, yerr=0 if np.isnan(row.test_se) else 100 * row.test_se,
                    fmt="s" if baseline else "o", mfc="white" if baseline else None, capsize=3)
        ax.annotate(row_name(row.method, row.config, row.head), (row.cpu_s, 100 * row.test_mean), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.set(xscale="log", xlabel="CPU seconds per run, whole pipeline (log)", ylabel="test accuracy % (mean ± SE)",
           title=f"{title}: accuracy against cost (squares: baselines on the signal)")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def cpu_time(records: list[dict]) -> dict[str, float]:
    """CPU seconds the records took: each run's own, and each shared product (zoo) once."""
    own = sum(r.get("cost", {}).get("cpu_s", 0.0) for r in records)
    shared = {name: s["cpu_s"] for r in records for name, s in r.get("cost", {}).get("shared", {}).items()}
    return {"runs": own, "shared": sum(shared.values()), "total": own + sum(shared.values())}


def not_run(planned: list, records: list[dict]) -> pd.DataFrame:
    """The planned runs without an ok record, with why: a failed or skipped record's reason,
    or "not run yet"."""
    by_id = {r["run_id"]: r for r in records}
    rows = []
    for spec in planned:
        r = by_id.get(spec.run_id)
        if r is not None and r["status"] == "ok":
            continue
        reason = "not run yet" if r is None else (r.get("reason") or r.get("error", "").strip().splitlines()[-1])
        rows.append({"data set": spec.dataset, "method": spec.method, "seed": spec.seed,
                     "status": "—" if r is None else r["status"], "reason": reason})
    return pd.DataFrame(rows)


def provenance_lines(records: list[dict]) -> list[str]:
    commits = sorted({commit_label(r) for r in records})
    machines = sorted({f"{r.get('provenance', {}).get('device', '?')} ({r.get('provenance', {}).get('host', '?')})"
                       for r in records})
    dates = sorted(r.get("finished", "")[:10] for r in records if r.get("finished"))
    return [f"Commits: {', '.join(commits)}", f"Machines: {'; '.join(machines)}",
            f"Finished: {dates[0]} to {dates[-1]}" if dates else "Finished: —"]


def dataset_section(dataset: str, records: list[dict], results: Path, out: Path, planned: list,
                    tuning: list[dict], crosschecks: dict[str, dict]) -> str:
    parts = [f"<h2 id='{html.escape(dataset)}'>{html.escape(dataset)}</h2>"]
    ok = [r for r in records if r["status"] == "ok"]
    cpu = cpu_time(records)
    parts.append(f"<p class='note'>CPU time of these records: {cpu['total'] / 3600:.2f} h "
                 f"({cpu['runs'] / 3600:.2f} h of runs, {cpu['shared'] / 3600:.2f} h of shared INR zoos, "
                 f"each counted once).</p>")
    if ok:
        agg = aggregate(records)
        table = display_frame(agg, crosschecks=crosschecks).drop(columns=["dataset"])
        parts.append(_table(table, "results"))
        plot = cost_plot(agg, dataset, out / f"{dataset}-cost.png")
        parts.append(f"<img alt='cost against accuracy on {html.escape(dataset)}' src='{plot.name}'>")
        curves = budget_curves(tuning, ok, dataset, out / f"{dataset}-budget.png")
        if curves:
            parts.append("<h3>Budget curves</h3><p class='note'>Validation accuracy of tuning runs (validation "
                         "only) trained longer than the table's rows; a dot marks the table's budget.</p>"
                         f"<img alt='budget curves on {html.escape(dataset)}' src='{curves.name}'>")
        reference, found = comparisons(dedupe(records), agg, results)
        if found:
            parts.append(f"<h3>Paired comparisons with {html.escape(reference)}</h3>"
                         f"<p class='note'>{html.escape(NOTE)}</p>")
            parts.append(_table(comparison_table(reference, found), "comparisons"))
        lowest = [r for r in ok if r["seed"] == min(x["seed"] for x in ok if x["method"] == r["method"])]
        for r in lowest:
            figures_for(r, results)  # drawn anew where its embeddings and artefacts are here
        figures = [p for r in lowest for p in sorted((results / "figures").glob(f"{r['run_id']}-*.png"))]
        if figures:
            (out / "figures").mkdir(parents=True, exist_ok=True)
            parts.append("<h3>Figures (lowest seed of each method)</h3>")
            for path in figures:
                shutil.copyfile(path, out / "figures" / path.name)
                parts.append(f"<img alt='{html.escape(path.stem)}' src='figures/{html.escape(path.name)}'>")
    similarity = sorted((results / "similarity").glob(f"{dataset}-seed*/*.png"))
    if similarity:  # written by `wsbench similarity`
        parts.append("<h3>Which methods learn the same thing (wsbench similarity)</h3>")
        for path in similarity:
            name = f"{path.parent.name}-{path.name}"
            (out / "figures").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / "figures" / name)
            parts.append(f"<img alt='{html.escape(name)}' src='figures/{html.escape(name)}'>")
    missing = not_run([s for s in planned if s.dataset == dataset], records)
    if not missing.empty:
        parts.append("<h3>Cells without a result</h3>")
        parts.append(_table(missing, "not-run"))
    return "\n".join(parts)


def write_page(records: list[dict], results: Path, out: Path, planned: list | None = None,
               absent: dict[str, str] | None = None) -> Path:
    """Write OUT/index.html and its images; returns the page's path. `planned`: the runs
    the table should hold; `absent`: data sets without a row, and why."""
    planned = planned or []
    tuning = [r for r in records if r.get("tune")]
    records = [r for r in records if not r.get("tune")]
    out.mkdir(parents=True, exist_ok=True)
    datasets = sorted({r["dataset"] for r in records} | {s.dataset for s in planned})
    body = ["<h1>wsbench results</h1>",
            "<p class='note'>" + "<br>".join(html.escape(line) for line in provenance_lines(records)) + "</p>",
            "<p class='note'>Test accuracy is mean ± standard error over seeds, each run selected on "
            "validation; published figures come from the papers, on their own budgets and INR sets (the "
            "column <i>differs from paper</i> names what differs).</p>",
            "<p>" + " · ".join(f"<a href='#{html.escape(d)}'>{html.escape(d)}</a>" for d in datasets) + "</p>"]
    crosschecks = load_crosschecks(results)
    body += [dataset_section(d, [r for r in records if r["dataset"] == d], results, out, planned,
                             [r for r in tuning if r["dataset"] == d], crosschecks) for d in datasets]
    body.append("<h2>Not in this table</h2>")
    if not any(r.get("profile") == "paper" for r in records):
        body.append("<p class='note'>No paper profile (<code>--profile paper</code>, sized for a GPU) was run for "
                    "these records.</p>")
    if absent:
        body.append(_table(pd.DataFrame({"data set": list(absent), "why": list(absent.values())}), "absent"))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>wsbench results</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    path = out / "index.html"
    atomic_write_bytes(path, page.encode())
    return path
