"""The method x data set matrix the report opens with: the whole table at a glance.

A row is one configuration and head of a method. The method's row is its profile's own
configuration; its other heads and its other configurations (parameters set apart from the
profile's, another profile, another version) are sub-rows under it, named by what differs.
Baselines on the signal (pixels, points) are grouped below the weight-space methods, and a
user's rows (`report --reference`) are tagged "(yours)". A cell is mean ± SE (n) of test
accuracy % over the seeds of one run identity, so records of another protocol, split or
version never share a cell; tuning runs are in no cell.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from tabulate import tabulate

from wsbench.core import params as P
from wsbench.core.errors import UserError
from wsbench.report import authors
from wsbench.report.references import match
from wsbench.report.tables import YOURS, facet_label, group_key, varying_facets

MAIN_PROFILE = "quick"  # the reference table's profile; rows of another profile are sub-rows named by it
BASELINES = "baselines on the signal (not weight-space)"
LEGEND = {  # the legend's sentences, each said where the matrix shows what it explains
    "always": "Test accuracy %, mean ± SE over seeds (n seeds), each run at its epoch of best validation accuracy. "
              "Bold: the best weight-space row of the column.",
    "paper": "[paper X]: the published figure for that method, head and data set, on the paper's own budget and "
             "INR set.",
    "checked": "†: the row runs the authors' model, shown to compute their function and take their training "
               "steps by the cross-check against their code (the report's section The authors' code).",
    "sub": "↳: the method's other heads and configurations, named by what differs from its profile's.",
    "yours": "(yours): your records, beside the reference.",
}

Defaults = Callable[[str, str, str, dict], "dict | None"]


def profile_defaults(registry) -> Defaults:
    """(method, profile, data set, a record's parameters) -> the parameters that profile gives
    the method there, or None where the method or profile is not known here. A parameter inert
    at the record's parameters (Param.when) takes the record's value: no row is named by it."""
    def defaults(method: str, profile: str, dataset: str, params: dict) -> dict | None:
        data = registry.datasets.get(dataset)  # a record's data set may be unknown here: no modality then
        try:
            plugin = registry.method(method)
            resolved = P.resolve(plugin, {}, profile, dataset, data.modality if data else None)
        except UserError:
            return None
        ran = {**resolved, **params}  # the records carry their legacy values (cli.py)
        return {**resolved, **{key: ran[key] for key in P.inert(plugin.params, ran)}}
    return defaults


def variants(records: list[dict], defaults: Defaults) -> dict[tuple[str, str], str]:
    """Each record's (identity, profile) -> how its configuration differs from its method's profile
    ("" for the profile's own): the parameters set apart from the profile's, a profile other
    than quick, and versions or data parameters that vary among the method's rows."""
    named = []
    for r, facets in zip(records, varying_facets(records)):
        params = r.get("params") or {}
        default = defaults(r["method"], r.get("profile", ""), r["dataset"], params)
        if default is None:  # a plugin not known here: name what varies, as the tables do
            parts = [facet_label(k, v) for k, v in facets.items()]
        else:
            parts = [f"{k}={params[k]}" for k in sorted(params) if k not in default or default[k] != params[k]]
            parts += [facet_label(k, v) for k, v in facets.items() if k not in params]
        if r.get("profile") != MAIN_PROFILE:
            parts.insert(0, f"profile {r.get('profile')}")
        named.append((r, parts))
    return {(group_key(r), r.get("profile", "")): " ".join(_joined(r, parts, named)) for r, parts in named}


def _joined(record: dict, parts: list[str], named: list[tuple[dict, list[str]]]) -> list[str]:
    """A sub-row's name, or the name of a wider sub-row of its method it belongs to: one that
    names everything it does and, beyond that, only parameter values it runs at (its data
    set's profile happens to set them), with no record of its own on this data set. So a
    configuration run on every data set is one row, even where a profile sets one of its
    values on some data sets (40 epochs, the default on digits only)."""
    if not parts:
        return parts  # the profile's own row keeps its records
    params = {f"{k}={v}" for k, v in (record.get("params") or {}).items()}
    wider = [other for r, other in named if r["method"] == record["method"] and set(parts) < set(other)
             and set(other) - set(parts) <= params]
    taken = {" ".join(other) for r, other in named if r["method"] == record["method"]
             and r["dataset"] == record["dataset"]}
    wider = [other for other in wider if " ".join(other) not in taken]
    return min(wider, key=lambda other: (len(other), other)) if wider else parts


@dataclass(frozen=True, order=True)
class Row:
    baseline: bool
    method: str
    yours: bool
    variant: str
    head: str
    checked: bool = False  # the row runs the authors' model, as the cross-check showed


@dataclass
class Cell:
    mean: float
    se: float
    n: int
    published: str
    best: bool = False

    def text(self) -> str:
        se = f"{100 * self.se:.2f}" if not np.isnan(self.se) else "–"
        return f"{100 * self.mean:.2f} ± {se} ({self.n})"


@dataclass
class Matrix:
    datasets: list[str]
    rows: list[Row]
    cells: dict[tuple[Row, str], Cell]

    def label(self, i: int) -> tuple[str, bool]:
        """Row i's name, and whether it is a sub-row of the row above."""
        row = self.rows[i]
        block = [r for r in self.rows if (r.method, r.yours) == (row.method, row.yours)]
        parts = [row.variant] if row.variant else []
        if len({r.head for r in block}) > 1:
            parts.append(f"head {row.head}")
        mark = " †" if row.checked else ""
        if row is not block[0]:
            return ", ".join(parts) + mark, True
        name = row.method + mark + (YOURS if row.yours else "")
        return ", ".join([name, *parts]), False


# Columns in the order the field's papers print them; other data sets follow by name.
COLUMNS = ("digits", "mnist", "fashion-mnist", "modelnet40", "shapenet10", "scannet10")


def column_order(dataset: str) -> tuple[int, str]:
    return (COLUMNS.index(dataset) if dataset in COLUMNS else len(COLUMNS), dataset)


def build(agg: pd.DataFrame, variant_of: dict[tuple[str, str], str],
          crosschecks: dict[str, dict] | None = None) -> Matrix:
    """The matrix of an aggregate (tables.aggregate or aggregate_beside) whose rows'
    (identity, profile) `variant_of` names; rows without a scored head (only failures) are left to the tables."""
    cells: dict[tuple[Row, str], Cell] = {}
    for row in agg.itertuples():
        if not isinstance(row.head, str) or not row.head or not row.n:
            continue
        params = json.loads(row.key).get("params") or {}
        ref = match(row.method, row.dataset, row.head, params)
        version = json.loads(row.key).get("versions", {}).get("method")
        key = Row(bool(row.kind), row.method, bool(getattr(row, "yours", False)), variant_of[row.key, row.profile],
                  row.head, authors.covers((crosschecks or {}).get(row.method), version, params))
        cells[key, row.dataset] = Cell(row.test_mean, row.test_se, int(row.n),
                                       f"{ref['value']:.2f}" if ref else "")
    datasets = sorted({d for _, d in cells}, key=column_order)
    for d in datasets:
        scored = [c for (r, dd), c in cells.items() if dd == d and not r.baseline]
        top = max((c.mean for c in scored), default=np.nan)
        for c in scored:
            c.best = c.mean == top
    return Matrix(datasets, sorted({r for r, _ in cells}), cells)


def legend(m: Matrix) -> str:
    """The sentences of LEGEND this matrix needs."""
    shown = {"always": True, "paper": any(c.published for c in m.cells.values()),
             "checked": any(r.checked for r in m.rows),
             "sub": any(m.label(i)[1] for i in range(len(m.rows))), "yours": any(r.yours for r in m.rows)}
    return " ".join(text for key, text in LEGEND.items() if shown[key])


def text_rows(m: Matrix, fmt: str) -> list[list[str]]:
    """The matrix as rows of text cells, markdown or plain."""
    markdown = fmt == "markdown"
    out = []
    for i, row in enumerate(m.rows):
        if row.baseline and (i == 0 or not m.rows[i - 1].baseline):
            out.append([f"*{BASELINES}*" if markdown else f"{BASELINES}:"] + [""] * len(m.datasets))
        name, sub = m.label(i)
        line = [("&emsp;↳ " if markdown else "↳ ") + name if sub else name]
        for d in m.datasets:
            cell = m.cells.get((row, d))
            if cell is None:
                line.append("—")
                continue
            text = cell.text()
            if cell.best:
                text = f"**{text}**" if markdown else f"*{text}"
            line.append(text + (f" [paper {cell.published}]" if cell.published else ""))
        out.append(line)
    return out


def render_text(m: Matrix, fmt: str) -> str:
    """The matrix and its legend as markdown or plain text (in plain, * marks the best)."""
    table = tabulate(text_rows(m, fmt), headers=["method", *m.datasets],
                     tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True)
    return f"{table}\n\n{legend(m) if fmt == 'markdown' else legend(m).replace('Bold:', '*:')}"


def render_html(m: Matrix) -> str:
    """The matrix as an HTML table (class `matrix`): sub-rows indented, baselines under a
    heading row, the user's rows of class `yours`, the best cell of a column in bold."""
    head = "".join(f"<th>{html.escape(d)}</th>" for d in m.datasets)
    lines = [f"<table class='matrix'><thead><tr><th>method</th>{head}</tr></thead><tbody>"]
    for i, row in enumerate(m.rows):
        if row.baseline and (i == 0 or not m.rows[i - 1].baseline):
            lines.append(f"<tr class='group'><th colspan='{len(m.datasets) + 1}'>{BASELINES}</th></tr>")
        name, sub = m.label(i)
        css = " ".join(c for c, on in (("yours", row.yours), ("baseline", row.baseline)) if on)
        cells = []
        for d in m.datasets:
            cell = m.cells.get((row, d))
            if cell is None:
                cells.append("<td>—</td>")
                continue
            text = f"<b>{cell.text()}</b>" if cell.best else cell.text()
            ref = f" <span class='paper'>[paper {cell.published}]</span>" if cell.published else ""
            cells.append(f"<td class='{'best' if cell.best else ''}'>{text}{ref}</td>")
        name_cell = f"<td class='sub'>↳ {html.escape(name)}</td>" if sub else f"<td>{html.escape(name)}</td>"
        lines.append(f"<tr class='{css}'>{name_cell}{''.join(cells)}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines) + f"<p class='note'>{html.escape(legend(m))}</p>"
