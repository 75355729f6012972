"""`wsbench report` as markdown or plain text: a heading and the legend of every column, the
method x data set matrix, then per data set its detailed table (a column that holds one
value in every row is said once beneath it instead) with its paired comparisons, and the
cross-checks against the authors' code. With a user's records beside a reference (`report
--reference DIR`), the user's rows stand in the matrix and the tables, tagged "(yours)",
each compared with every reference row of its seeds and split."""
from __future__ import annotations

from pathlib import Path

from wsbench.report import matrix as M
from wsbench.report.authors import section
from wsbench.report.paired import LEGEND as PAIRED_LEGEND
from wsbench.report.paired import NOTE, YOURS_NOTE, against_reference, comparison_table, comparisons, yours_table
from wsbench.report.tables import (LEGEND, aggregate, aggregate_beside, dedupe, display_frame,
                                   split_constant, to_text)

MATRIX_HEADING = "Test accuracy by method and data set"


def scored(records: list[dict]) -> list[dict]:
    """The records of the tables: every run but the tuning runs."""
    return [r for r in records if not r.get("tune")]


def matrix_of(reference: list[dict], yours: list[dict], defaults: M.Defaults,
              crosschecks: dict[str, dict]) -> M.Matrix:
    return M.build(aggregate_beside(reference, yours), {**M.variants(dedupe(reference), defaults),
                                                        **M.variants(dedupe(yours), defaults)}, crosschecks)


def render_matrix(reference: list[dict], defaults: M.Defaults, crosschecks: dict[str, dict],
                  yours: list[dict] = (), fmt: str = "markdown") -> str:
    """The matrix and its legend alone (`report --format matrix`, the README's block)."""
    return M.render_text(matrix_of(scored(reference), scored(list(yours)), defaults, crosschecks), fmt)


def _heading(level: int, text: str, fmt: str) -> str:
    return f"{'#' * level} {text}" if fmt == "markdown" else text


def render_report(title: str, reference: list[dict], reference_dir: Path, defaults: M.Defaults,
                  crosschecks: dict[str, dict], fmt: str = "markdown", yours: list[dict] = (),
                  yours_dir: Path | None = None) -> str:
    """The whole report; `reference` alone, or the user's records `yours` (kept in `yours_dir`)
    beside it."""
    reference, yours = scored(reference), scored(list(yours))
    sections, columns = [], set()
    for dataset in sorted({r["dataset"] for r in reference + yours}, key=M.column_order):
        ref = [r for r in reference if r["dataset"] == dataset]
        mine = [r for r in yours if r["dataset"] == dataset]
        table = display_frame(aggregate_beside(ref, mine), crosschecks=crosschecks).drop(columns=["dataset"])
        table, constant = split_constant(table)
        columns |= set(table.columns) | set(constant)
        parts = [_heading(2, dataset, fmt), to_text(table, fmt)]
        if constant:
            parts.append("In every row: " + "; ".join(f"{k} {v}" for k, v in constant.items()) + ".")
        best, found = comparisons(dedupe(ref), aggregate(ref), reference_dir) if ref else ("", [])
        if found:
            frame = comparison_table(best, found)
            columns |= set(frame.columns)
            parts += [_heading(3, f"Paired comparisons on {dataset}", fmt), NOTE, to_text(frame, fmt)]
        if mine and ref:
            frames = [yours_table(name, found) for name, found in against_reference(mine, yours_dir, ref,
                                                                                     reference_dir)]
            if frames:
                parts += [_heading(3, f"Your rows against the reference on {dataset}", fmt), YOURS_NOTE]
                parts += [to_text(frame, fmt) for frame in frames]
                columns |= set(frames[0].columns)
        sections.append("\n\n".join(parts))
    legend = {**LEGEND, **PAIRED_LEGEND}
    lines = [f"- **{name}**: {text}" if fmt == "markdown" else f"- {name}: {text}"
             for name, text in legend.items() if name in columns]
    head = [_heading(1, title, fmt), "What the columns of the tables below mean:", "\n".join(lines),
            _heading(2, MATRIX_HEADING, fmt), M.render_text(matrix_of(reference, yours, defaults, crosschecks), fmt)]
    checks = section(crosschecks) if fmt == "markdown" else ""
    return "\n\n".join([*head, *sections, *([checks] if checks else [])])
