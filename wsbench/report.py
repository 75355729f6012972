"""Aggregate run records into mean ± standard-error tables (pandas + tabulate)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from tabulate import tabulate

from wsbench.errors import UserError

FORMATS = {"markdown": "github", "latex": "latex_booktabs", "plain": "simple"}
GROUP = ["dataset", "method", "profile", "config", "head"]


def config_labels(runs: list[tuple[str, dict]]) -> list[str]:
    """Label each (method, params) by how it differs from the other configurations
    of the same method, so that a lone configuration shows no label at all."""
    by_method: dict[str, list[dict]] = {}
    for method, params in runs:
        by_method.setdefault(method, []).append(params)
    labels = []
    for method, params in runs:
        varying = sorted(k for k in params
                         if len({json.dumps(p.get(k), sort_keys=True) for p in by_method[method]}) > 1)
        labels.append(" ".join(f"{k}={params[k]}" for k in varying))
    return labels


def flatten(records: list[dict]) -> pd.DataFrame:
    """One row per (run, head); runs that failed or were skipped give one row with no head."""
    rows = []
    for r, config in zip(records, config_labels([(r["method"], r["params"]) for r in records])):
        base = {"dataset": r["dataset"], "method": r["method"], "profile": r.get("profile", ""),
                "config": config, "seed": r["seed"], "status": r["status"],
                "seconds": r.get("cost", {}).get("seconds", np.nan),
                "peak_mb": r.get("cost", {}).get("peak_rss_mb", np.nan),
                "psnr": r.get("metrics", {}).get("psnr_test", np.nan),
                "chamfer": r.get("metrics", {}).get("chamfer_test", np.nan)}
        heads = r.get("heads") if r["status"] == "ok" else None
        if not heads:
            rows.append({**base, "head": "", "test_acc": np.nan, "val_acc": np.nan})
        for head, s in (heads or {}).items():
            rows.append({**base, "head": head, "test_acc": s["test_acc"], "val_acc": s["val_acc"]})
    return pd.DataFrame(rows)


def _se(x: pd.Series) -> float:
    x = x.dropna()
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan


def aggregate(records: list[dict]) -> pd.DataFrame:
    """Mean and standard error (sample std / sqrt(n)) over seeds of each configuration and head."""
    if not records:
        raise UserError("no run records to report; run `wsbench run` first or point --results elsewhere")
    df = flatten(records)
    ok = df[df.status == "ok"]
    failed = (df[df.status == "failed"].groupby(GROUP[:-1]).seed.nunique().rename("failed"))
    agg = ok.groupby(GROUP).agg(
        test_mean=("test_acc", "mean"), test_se=("test_acc", _se), n=("test_acc", "count"),
        val_mean=("val_acc", "mean"), psnr=("psnr", "mean"), chamfer=("chamfer", "mean"),
        seconds=("seconds", "mean"),
        peak_mb=("peak_mb", "max")).reset_index()
    agg = agg.merge(failed.reset_index(), on=GROUP[:-1], how="outer")
    agg["failed"] = agg["failed"].fillna(0).astype(int)
    agg["n"] = agg["n"].fillna(0).astype(int)
    return agg.sort_values(GROUP, na_position="last").reset_index(drop=True)


def _pm(mean: float, se: float) -> str:
    if np.isnan(mean):
        return "—"
    return f"{100 * mean:.2f} ± {100 * se:.2f}" if not np.isnan(se) else f"{100 * mean:.2f} ± –"


def display_frame(agg: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "dataset": agg.dataset, "method": agg.method, "profile": agg.profile,
        "config": agg.config, "head": agg["head"].fillna(""),
        "test acc % (mean ± SE)": [_pm(m, s) for m, s in zip(agg.test_mean, agg.test_se)],
        "n": agg.n, "failed": agg.failed,
        "val acc %": (100 * agg.val_mean).round(2),
        "test PSNR dB": agg.psnr.round(2),
        "test Chamfer": agg.chamfer.round(4),
        "time/run s": agg.seconds.round(1),
        "peak MB": agg.peak_mb.round(0),
    })
    empty = [c for c in ("test PSNR dB", "test Chamfer") if out[c].isna().all()]
    return out.drop(columns=empty + [c for c in ("config",) if not out[c].astype(bool).any()])


def render(records: list[dict], fmt: str = "markdown") -> str:
    table = display_frame(aggregate(records))
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join([*FORMATS, 'csv'])}")
    return tabulate(table, headers="keys", tablefmt=FORMATS[fmt], showindex=False, missingval="—")
