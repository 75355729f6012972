"""`wsbench report --html DIR`: the results page, one static file with its PNGs and the run
records beside it (no server; it opens from disk). First the method x data set matrix;
per data set: the mean ± SE table with the published references and a link to each run's
record, a cost-vs-accuracy plot, McNemar comparisons against the row with the best mean
validation accuracy (and, beside a reference, of the user's rows against the reference's),
the figures, and every planned cell that has no result, with its reason; above them, the
commits, machines and CPU time the records came from."""
from __future__ import annotations

import html
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from wsbench.core.fileio import atomic_write_bytes
from wsbench.report import matrix as M
from wsbench.report.authors import load_crosschecks
from wsbench.report.document import matrix_of
from wsbench.report.figures import budget_curves, figures_for, plt, save_png
from wsbench.report.paired import NOTE, YOURS_NOTE, against_reference, comparison_table, comparisons, yours_table
from wsbench.report.tables import (YOURS, aggregate, aggregate_beside, commit_label, dedupe, display_frame,
                                   group_key, row_name, split_constant)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f0f0f0; }
img { max-width: 720px; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; }
.note { color: #555; font-size: 0.9em; }
table.matrix td.sub { padding-left: 1.8em; color: #444; }
table.matrix tr.group th { text-align: left; font-style: italic; background: #fafafa; }
table.matrix .paper { color: #777; font-size: 0.9em; }
tr.yours td { background: #fff8e0; }
"""
LABEL_RADII = (6, 12, 18, 28, 40, 55, 72, 92, 115)  # points from a marker at which a label may stand
LABEL_ANGLES = range(0, 360, 30)


def _table(frame: pd.DataFrame, css: str) -> str:
    return frame.to_html(index=False, classes=css, na_rep="—", border=0, escape=True)


def label_box(text, renderer) -> Bbox:
    """A label's own box in pixels, without its leader line."""
    text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def place_labels(ax, xy: np.ndarray, labels: list[str], fontsize: float = 7) -> list:
    """Label each point where its text overlaps no other label and no marker, inside the axes:
    the nearest free spot on rings of growing radius around it (a thin line leads to labels
    set further off); where none is free, the spot with the fewest overlaps."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the limits and transforms the labels are placed in
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72  # pixels per point
    taken = [Bbox.from_extents(x - 4 * scale, y - 4 * scale, x + 4 * scale, y + 4 * scale)
             for x, y in ax.transData.transform(xy)]
    frame = ax.get_window_extent(renderer)
    texts = []
    for point, label in zip(xy, labels):
        text = ax.annotate(label, point, xytext=(0, 0), textcoords="offset points", fontsize=fontsize,
                           arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5", shrinkA=0, shrinkB=3))
        best = None
        for radius in LABEL_RADII:
            for angle in LABEL_ANGLES:
                dx, dy = radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle))
                text.set_position((dx, dy))
                text.set_ha("left" if dx > 1e-6 else "right" if dx < -1e-6 else "center")
                text.set_va("bottom" if dy > 1e-6 else "top" if dy < -1e-6 else "center")
                box = label_box(text, renderer)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                cost = sum(box.overlaps(other) for other in taken) + (0 if inside else 100)
                if best is None or cost < best[0]:
                    best = (cost, (dx, dy), text.get_ha(), text.get_va(), box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, position, ha, va, box = best
        text.set_position(position)
        text.set_ha(ha)
        text.set_va(va)
        taken.append(box)
        texts.append(text)
    return texts


def cost_plot(agg: pd.DataFrame, title: str, path: Path) -> Path:
    """Test accuracy (mean ± SE over seeds) against the CPU time of the whole pipeline, each
    point labelled where the label covers no other label or point."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    points, labels = [], []
    for row in agg.itertuples():
        if np.isnan(row.test_mean) or np.isnan(row.cpu_s):
            continue
        baseline = bool(row.kind)
        ax.errorbar(row.cpu_s, 100 * row.test_mean, yerr=0 if np.isnan(row.test_se) else 100 * row.test_se,
                    fmt="s" if baseline else "o", mfc="white" if baseline else None, capsize=3)
        points.append((row.cpu_s, 100 * row.test_mean))
        labels.append(row_name(row.method, row.config, row.head) + (YOURS if getattr(row, "yours", False) else ""))
    ax.set(xscale="log", xlabel="CPU seconds per run, whole pipeline (log)", ylabel="test accuracy % (mean ± SE)",
           title=f"{title}: accuracy against cost (squares: baselines on the signal)")
    ax.margins(x=0.25, y=0.12)
    ax.grid(alpha=0.3)
    if points:
        place_labels(ax, np.array(points), labels)
    return save_png(fig, path)


def run_links(records: list[dict], out: Path, results: Path) -> dict[str, str]:
    """Identity -> links to its runs' records, copied to OUT/runs/ so the page carries them."""
    (out / "runs").mkdir(parents=True, exist_ok=True)
    links: dict[str, list[str]] = {}
    for r in sorted(records, key=lambda r: r["seed"]):
        shutil.copyfile(results / "runs" / f"{r['run_id']}.json", out / "runs" / f"{r['run_id']}.json")
        title = f"{r['method']} seed {r['seed']}: {r['status']}"
        links.setdefault(group_key(r), []).append(
            f"<a href='runs/{html.escape(r['run_id'])}.json' title='{html.escape(title)}'>{r['seed']}</a>")
    return {key: " ".join(seeds) for key, seeds in links.items()}


def results_table(agg: pd.DataFrame, crosschecks: dict[str, dict], links: dict[tuple[str, bool], str]) -> str:
    """The data set's table with a column of links to each row's run records (by seed); a column
    that holds one value in every row is said once beneath it."""
    table, constant = split_constant(display_frame(agg, crosschecks=crosschecks).drop(columns=["dataset"]))
    table = table.astype(object).where(table.notna(), "—")
    table = table.map(lambda v: html.escape(v) if isinstance(v, str) else v)
    table["run records"] = [links.get((row.key, bool(getattr(row, "yours", False))), "") for row in agg.itertuples()]
    said = "; ".join(f"{k} {v}" for k, v in constant.items())
    return table.to_html(index=False, classes="results", border=0, escape=False) + (
        f"<p class='note'>In every row: {html.escape(said)}.</p>" if constant else "")


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
                    tuning: list[dict], crosschecks: dict[str, dict], yours: list[dict] = (),
                    yours_dir: Path | None = None) -> str:
    parts = [f"<h2 id='{html.escape(dataset)}'>{html.escape(dataset)}</h2>"]
    ok = [r for r in records if r["status"] == "ok"]
    cpu = cpu_time(records)
    parts.append(f"<p class='note'>CPU time of these records: {cpu['total'] / 3600:.2f} h "
                 f"({cpu['runs'] / 3600:.2f} h of runs, {cpu['shared'] / 3600:.2f} h of shared INR zoos, "
                 f"each counted once).</p>")
    if ok or any(r["status"] == "ok" for r in yours):
        agg = aggregate_beside(records, list(yours))
        links = {(key, False): text for key, text in run_links(records, out, results).items()}
        links |= {(key, True): text for key, text in run_links(list(yours), out, yours_dir).items()} if yours else {}
        parts.append(results_table(agg, crosschecks, links))
        plot = cost_plot(agg, dataset, out / f"{dataset}-cost.png")
        parts.append(f"<img alt='cost against accuracy on {html.escape(dataset)}' src='{plot.name}'>")
        curves = budget_curves(tuning, ok, dataset, out / f"{dataset}-budget.png")
        if curves:
            parts.append("<h3>Budget curves</h3><p class='note'>Validation accuracy of tuning runs (validation "
                         "only) trained longer than the table's rows; a dot marks the table's budget.</p>"
                         f"<img alt='budget curves on {html.escape(dataset)}' src='{curves.name}'>")
        reference, found = comparisons(dedupe(records), aggregate(records), results) if ok else ("", [])
        if found:
            parts.append(f"<h3>Paired comparisons with {html.escape(reference)}</h3>"
                         f"<p class='note'>{html.escape(NOTE)}</p>")
            parts.append(_table(comparison_table(reference, found), "comparisons"))
        mine = against_reference(list(yours), yours_dir, records, results) if yours and ok else []
        if mine:
            parts.append(f"<h3>Your rows against the reference</h3><p class='note'>{html.escape(YOURS_NOTE)}</p>")
            parts += [_table(yours_table(name, found), "comparisons yours") for name, found in mine]
        for folder, runs in ((results, ok), (yours_dir, [r for r in yours if r["status"] == "ok"])):
            lowest = [r for r in runs if r["seed"] == min(x["seed"] for x in runs if x["method"] == r["method"])]
            for r in lowest:
                figures_for(r, folder)  # drawn anew where its embeddings and artefacts are here
            figures = [p for r in lowest for p in sorted((folder / "figures").glob(f"{r['run_id']}-*.png"))]
            if figures:
                (out / "figures").mkdir(parents=True, exist_ok=True)
                parts.append("<h3>Figures (lowest seed of each method)</h3>" if folder == results
                             else "<h3>Figures of your rows (lowest seed of each method)</h3>")
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
    missing = not_run([s for s in planned if s.dataset == dataset], records + list(yours))
    if not missing.empty:
        parts.append("<h3>Cells without a result</h3>")
        parts.append(_table(missing, "not-run"))
    return "\n".join(parts)


def write_page(records: list[dict], results: Path, out: Path, planned: list | None = None,
               absent: dict[str, str] | None = None, *, defaults: M.Defaults, yours: list[dict] = (),
               yours_dir: Path | None = None) -> Path:
    """Write OUT/index.html, its images and the records it links to; returns the page's path.
    `planned`: the runs the table should hold; `absent`: data sets without a row, and why;
    `defaults`: each method's profile parameters (matrix.profile_defaults), which name its
    sub-rows; `yours`: a user's records (kept in `yours_dir`) to place beside `records`."""
    planned = planned or []
    tuning = [r for r in records if r.get("tune")]
    records = [r for r in records if not r.get("tune")]
    yours = [r for r in yours if not r.get("tune")]
    out.mkdir(parents=True, exist_ok=True)
    datasets = sorted({r["dataset"] for r in records + yours} | {s.dataset for s in planned}, key=M.column_order)
    crosschecks = load_crosschecks(results)
    body = ["<h1>wsbench results</h1>",
            "<p class='note'>" + "<br>".join(html.escape(line) for line in provenance_lines(records + yours))
            + "</p>",
            "<p class='note'>Test accuracy is mean ± standard error over seeds, each run selected on "
            "validation; published figures come from the papers, on their own budgets and INR sets (the "
            "column <i>differs from paper</i> names what differs).</p>",
            "<p>" + " · ".join(f"<a href='#{html.escape(d)}'>{html.escape(d)}</a>" for d in datasets) + "</p>"]
    if any(r["status"] == "ok" for r in records + yours):
        body += ["<h2 id='matrix'>Test accuracy by method and data set</h2>",
                 M.render_html(matrix_of(records, yours, defaults, crosschecks))]
    body += [dataset_section(d, [r for r in records if r["dataset"] == d], results, out, planned,
                             [r for r in tuning if r["dataset"] == d], crosschecks,
                             [r for r in yours if r["dataset"] == d], yours_dir) for d in datasets]
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
