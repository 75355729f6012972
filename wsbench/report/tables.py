"""Aggregate run records into mean ± standard-error tables (pandas + tabulate).

A row is one full run identity less the seed (method, resolved parameters, data
set, data parameters, protocol and plugin versions), so records computed by
different code or on different data are never averaged together. Each row shows
the commits its records came from and flags rows that mix commits or dirty trees.
Tuning runs (`run --tune`) appear only in the tuning table, which has no test column.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
from tabulate import tabulate

from wsbench.core.errors import Notice, UserError
from wsbench.core.spec import IDENTITY_KEYS
from wsbench.report import authors
from wsbench.report.references import compare, differences, match, published

FORMATS = {"markdown": "github", "latex": "latex_booktabs", "plain": "simple"}
GROUP = ["dataset", "method", "profile", "config", "head"]


def group_key(record: dict) -> str:
    """The run identity less the seed: what must agree for records to share a row."""
    return json.dumps({k: record.get(k) for k in IDENTITY_KEYS if k != "seed"}, sort_keys=True, default=str)


INERT = "inert"  # a facet's value where the parameter has no effect (a record's `inert_params`, cli.py)


def _facets(record: dict) -> dict[str, str]:
    """What can tell two configurations of one method apart, as label parts."""
    inert = set(record.get("inert_params", ()))
    out = {k: INERT if k in inert else json.dumps(v, sort_keys=True) for k, v in record.get("params", {}).items()}
    out.update({f"data:{k}": json.dumps(v, sort_keys=True) for k, v in record.get("data_params", {}).items()})
    out.update({f"{k} v": json.dumps(v) for k, v in (record.get("versions") or {}).items()})
    out["protocol v"] = json.dumps(record.get("protocol"))
    return out


def varying_facets(runs: list[dict]) -> list[dict[str, str]]:
    """Per record, the facets in which its configuration differs from the other
    configurations of the same method on the same data set (none for a lone one). A
    parameter is compared only among the records where it has an effect, and names none
    where it has none."""
    facets = [_facets(r) for r in runs]
    by: dict[tuple, list[dict]] = {}
    for r, f in zip(runs, facets):
        by.setdefault((r.get("dataset"), r["method"]), []).append(f)
    return [{k: f[k] for k in sorted(f)
             if f[k] != INERT and len({g.get(k) for g in by[(r.get("dataset"), r["method"])]} - {INERT}) > 1}
            for r, f in zip(runs, facets)]


def facet_label(key: str, value: str) -> str:
    """`epochs=3` for a parameter, `method v2` for a version."""
    return f"{key}{json.loads(value)}" if key.endswith(" v") else f"{key}={json.loads(value)}"


def config_labels(runs: list[dict]) -> list[str]:
    """Label each record by how its configuration differs from the other configurations
    of the same method on the same data set, so a lone configuration shows no label."""
    return [" ".join(facet_label(k, v) for k, v in f.items()) for f in varying_facets(runs)]


def row_name(method: str, config: str, head: str) -> str:
    """A row's name in comparisons: method, its configuration label, head."""
    return " ".join(part for part in (method, f"[{config}]" if config else "", f"head {head}") if part)


def dedupe(records: list[dict]) -> list[dict]:
    """One record per (identity, seed): a copy of a record under another name is counted once."""
    seen: dict[tuple, dict] = {}
    for r in records:
        key = (group_key(r), r.get("seed"))
        if key in seen:
            warnings.warn(f"records {seen[key].get('run_id')} and {r.get('run_id')} claim the same run "
                          f"({r['method']} on {r.get('dataset')} seed {r.get('seed')}); counted once; "
                          f"`wsbench verify` names the offending file", Notice)
            continue
        seen[key] = r
    return list(seen.values())


def commit_label(record: dict) -> str:
    code = record.get("provenance", {}).get("code", {})
    commit = (code.get("commit") or "unknown")[:8]
    return commit + ("+dirty" if code.get("dirty") else "")


def _zoo_sharing(record: dict) -> str:
    """Whether a zoo method's seeds share one zoo (a fixed inr_seed) or fit one each (-1)."""
    if not any(k.startswith("zoo ") for k in record.get("cost", {}).get("shared", {})):
        return ""
    return "per seed" if record.get("params", {}).get("inr_seed") == -1 else "one for all seeds"


def _count(n: int) -> str:
    return f"{n / 1e6:.2g}M" if n >= 1e6 else f"{n / 1e3:.3g}k" if n >= 1e3 else str(n)


def parameter_counts(record: dict, head: str) -> str:
    """The trained parts of a row and their sizes: the method's, and the head's where it is
    not one of them."""
    parts = dict(record.get("num_params") or {})
    head_n = (record.get("heads") or {}).get(head, {}).get("num_params")
    if head_n and head_n not in parts.values():
        parts[f"head {head}"] = head_n
    return ", ".join(f"{name} {_count(n)}" for name, n in parts.items())


def flatten(records: list[dict]) -> pd.DataFrame:
    """One row per (run, head); runs that failed or were skipped give one row with no head."""
    rows = []
    for r, config in zip(records, config_labels(records)):
        cost = r.get("cost", {})
        shared = cost.get("shared", {})
        base = {"dataset": r["dataset"], "method": r["method"], "profile": r.get("profile", ""),
                "config": config, "key": group_key(r), "seed": r["seed"], "status": r["status"],
                "pipeline_s": cost.get("pipeline_wall_s", np.nan),
                "shared_s": sum(s["wall_s"] for s in shared.values()) if shared else 0.0,
                "cpu_s": cost.get("pipeline_cpu_s", np.nan), "threads": cost.get("threads", np.nan),
                "peak_mb": cost.get("peak_rss_mb", np.nan),
                "psnr": r.get("metrics", {}).get("psnr_test", np.nan),
                "udf_l1": r.get("metrics", {}).get("udf_l1_test", np.nan),
                "chamfer": r.get("metrics", {}).get("chamfer_test", np.nan),
                "commit": commit_label(r), "zoo": _zoo_sharing(r),
                "kind": "baseline (not weight-space)" if r.get("weight_space") is False else ""}
        heads = r.get("heads") if r["status"] == "ok" else None
        if not heads:
            rows.append({**base, "head": "", "test_acc": np.nan, "val_acc": np.nan, "params": ""})
        for head, s in (heads or {}).items():
            rows.append({**base, "head": head, "test_acc": s.get("test_acc", np.nan), "val_acc": s["val_acc"],
                         "params": parameter_counts(r, head)})
    return pd.DataFrame(rows)


def _se(x: pd.Series) -> float:
    x = x.dropna()
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan


def _commits(x: pd.Series) -> str:
    commits = sorted(set(x))
    mixed = len(commits) > 1 or any(c.endswith("+dirty") for c in commits)
    return ", ".join(commits) + (" (!)" if mixed else "")


def aggregate(records: list[dict]) -> pd.DataFrame:
    """Mean and standard error (sample std / sqrt(n)) over seeds of each identity and head."""
    records = dedupe(records)
    if not records:
        raise UserError("no run records to report; run `wsbench run` first or point --results elsewhere")
    df = flatten(records)
    keys = GROUP[:-1] + ["key"]
    ok = df[df.status == "ok"]
    failed = df[df.status == "failed"].groupby(keys).seed.nunique().rename("failed")
    agg = ok.groupby(keys + ["head"]).agg(
        test_mean=("test_acc", "mean"), test_se=("test_acc", _se), n=("val_acc", "count"),
        val_mean=("val_acc", "mean"), val_se=("val_acc", _se), psnr=("psnr", "mean"), udf_l1=("udf_l1", "mean"),
        chamfer=("chamfer", "mean"), pipeline_s=("pipeline_s", "mean"), shared_s=("shared_s", "mean"),
        cpu_s=("cpu_s", "mean"), threads=("threads", "max"), peak_mb=("peak_mb", "max"),
        commits=("commit", _commits), zoo=("zoo", "first"), kind=("kind", "first"),
        params=("params", "first")).reset_index()
    agg = agg.merge(failed.reset_index(), on=keys, how="outer")
    agg["failed"] = agg["failed"].fillna(0).astype(int)
    agg["n"] = agg["n"].fillna(0).astype(int)
    return agg.sort_values(GROUP, na_position="last").reset_index(drop=True)


def _pm(mean: float, se: float) -> str:
    if np.isnan(mean):
        return "—"
    return f"{100 * mean:.2f} ± {100 * se:.2f}" if not np.isnan(se) else f"{100 * mean:.2f} ± –"


def aggregate_beside(reference: list[dict], yours: list[dict]) -> pd.DataFrame:
    """The reference's rows and the user's rows (column `yours`), each aggregated on its own
    so that a user's rerun of a reference configuration is a row of its own."""
    parts = [aggregate(records).assign(yours=mine) for records, mine in ((reference, False), (yours, True))
             if records]
    if not parts:
        raise UserError("no run records to report; run `wsbench run` first or point --results elsewhere")
    return pd.concat(parts).sort_values([*GROUP, "yours"], na_position="last").reset_index(drop=True)


YOURS = " (yours)"


def display_frame(agg: pd.DataFrame, tune: bool = False, crosschecks: dict[str, dict] | None = None) -> pd.DataFrame:
    method = agg.method + np.where(agg["yours"], YOURS, "") if "yours" in agg else agg.method
    out = pd.DataFrame({"dataset": agg.dataset, "method": method, "kind": agg.kind.fillna(""),
                        "profile": agg.profile, "config": agg.config, "head": agg["head"].fillna("")})
    if tune:
        out["val acc % (mean ± SE)"] = [_pm(m, s) for m, s in zip(agg.val_mean, agg.val_se)]
    else:
        out["test acc % (mean ± SE)"] = [_pm(m, s) for m, s in zip(agg.test_mean, agg.test_se)]
    out["n"], out["failed"] = agg.n, agg.failed
    if not tune:
        out["val acc %"] = (100 * agg.val_mean).round(2)
    out["test PSNR dB"] = agg.psnr.round(2)
    out["test UDF L1"] = agg.udf_l1.round(4)
    out["test Chamfer"] = agg.chamfer.round(4)
    out["time/run s"] = agg.pipeline_s.round(1)
    out["of it shared s"] = agg.shared_s.round(1)
    out["CPU s"] = agg.cpu_s.round(1)
    out["threads"] = agg.threads
    out["peak MB"] = agg.peak_mb.round(0)
    out["parameters"] = agg.params.fillna("")
    out["INR zoo"] = agg.zoo.fillna("")
    if not tune:
        add_references(out, agg)
        out["authors' code"] = [authors.cell((crosschecks or {}).get(row.method),
                                             json.loads(row.key).get("versions", {}).get("method"),
                                             json.loads(row.key).get("params") or {})
                                for row in agg.itertuples()]
    out["commits"] = agg.commits.fillna("")
    empty = [c for c in ("test PSNR dB", "test UDF L1", "test Chamfer") if out[c].isna().all()]
    empty += [c for c in ("kind", "config", "parameters", "INR zoo", "published %", "Δ pts", "differs from paper", "reference",
                                "authors' code") if c in out and not out[c].astype(bool).any()]
    empty += [c for c in ("of it shared s",) if not (out[c].fillna(0) > 0).any()]
    return out.drop(columns=empty)


def add_references(out: pd.DataFrame, agg: pd.DataFrame) -> None:
    """The published figure, the difference and what differs, beside every row with a reference."""
    columns = {"published %": [], "Δ pts": [], "differs from paper": [], "reference": []}
    for row in agg.itertuples():
        params = json.loads(row.key).get("params") or {}
        ref = match(row.method, row.dataset, row.head, params) if isinstance(row.head, str) else None
        ok = ref is not None and not np.isnan(row.test_mean)
        columns["published %"].append(published(ref) if ok else "")
        columns["Δ pts"].append(compare(ref, row.test_mean, row.test_se, row.n) if ok else "")
        columns["differs from paper"].append(differences(ref, params) if ok else "")
        columns["reference"].append(ref["source"] if ok else "")
    for name, values in columns.items():
        out[name] = values


# what each column of the tables means, for the report's legend
LEGEND = {
    "method": "the method; (yours): a row of your records, placed beside the reference",
    "kind": "baseline (not weight-space): a baseline on the signal (pixels or points), not on weights",
    "profile": "the parameter profile of the runs (quick: sized for a 2-core CPU; paper: the paper's settings)",
    "config": "how the row's configuration differs from the method's other rows on this data set",
    "head": "the classifier head (a method may train several, e.g. on a latent z and on generated weights w)",
    "test acc % (mean ± SE)": "test accuracy at each run's epoch of best validation accuracy, mean ± standard "
                              "error over seeds",
    "n": "seeds with a result",
    "failed": "seeds whose run failed",
    "val acc %": "validation accuracy at the selected epoch, mean over seeds",
    "test PSNR dB": "reconstruction quality of the test images' INRs",
    "test UDF L1": "mean absolute error of the test shapes' predicted unsigned distances",
    "test Chamfer": "Chamfer distance between the test shapes and the surfaces recovered from their UDFs",
    "time/run s": "wall seconds per run, whole pipeline, work shared between runs counted in full",
    "of it shared s": "of which work shared between runs (an INR zoo, a shape's UDF queries)",
    "CPU s": "CPU seconds per run, whole pipeline",
    "threads": "threads each run used",
    "peak MB": "peak resident memory of a run",
    "parameters": "the trained parts of the row and their sizes",
    "INR zoo": "whether the seeds share one INR zoo or fit one each",
    "published %": "the paper's figure for this method, head and data set (± as published)",
    "Δ pts": "measured minus published, in points (and in combined standard errors, from 3 seeds)",
    "differs from paper": "what the row does differently from the paper's run (INR set, budget)",
    "reference": "where the published figure comes from",
    "authors' code": "what the cross-check against the authors' code showed (section The authors' code)",
    "commits": "the code commits of the row's records ((!): mixed commits or a dirty tree)",
}


def split_constant(table: pd.DataFrame, keep: tuple[str, ...] = ("method", "test acc % (mean ± SE)")
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table without the columns that hold one value in every row (of two or more), and
    those values, to be said once instead."""
    if len(table) < 2:
        return table, {}
    constant = {c: _plain(table[c].iloc[0]) for c in table.columns
                if c not in keep and table[c].astype(str).nunique() == 1 and _plain(table[c].iloc[0])}
    return table.drop(columns=list(constant)), constant


def _plain(value) -> str:
    """A cell as text: 1.0 as 1, a missing value as ""."""
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return ""
    return str(int(value)) if isinstance(value, (float, np.floating)) and float(value).is_integer() else str(value)


def to_text(table: pd.DataFrame, fmt: str) -> str:
    """A display frame as a markdown, latex or plain text table (missing values as —)."""
    table = table.astype(object).where(table.notna(), None)  # tabulate shows None as missing, NaN as "nan"
    return tabulate(table, headers="keys", tablefmt=FORMATS[fmt], showindex=False, missingval="—")


def render(records: list[dict], fmt: str = "markdown", tune: bool = False,
           crosschecks: dict[str, dict] | None = None) -> str:
    """The table of scored runs, or with `tune` the validation table of tuning runs."""
    if fmt not in FORMATS and fmt != "csv":
        raise UserError(f"--format {fmt!r}: choose one of {', '.join([*FORMATS, 'csv'])}")
    chosen = [r for r in records if bool(r.get("tune")) == tune]
    if records and not chosen:
        raise UserError("only tuning runs here; `wsbench report --tune` shows them" if not tune
                        else "no tuning runs here (`wsbench run --tune ...` makes them)")
    table = display_frame(aggregate(chosen), tune, crosschecks)
    if fmt == "csv":
        return table.to_csv(index=False)
    return to_text(table, fmt)
