"""Published figures beside the measured ones: the references (published.yaml, shipped with
the package), which row each matches, the difference, and what differs in protocol or budget."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import yaml

from wsbench.core.errors import UserError

REFERENCES = Path(__file__).with_name("published.yaml")
FIELDS = {"method", "head", "dataset", "protocol", "value", "pm", "pm_kind", "seeds", "source", "params", "budget"}
PROTOCOLS = ("dwsnet-set", "nfn-set", "own")


@lru_cache(maxsize=None)
def load_references(path: Path = REFERENCES) -> tuple[dict, ...]:
    entries = yaml.safe_load(path.read_text()) or []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) - FIELDS or not {"method", "head", "dataset", "protocol",
                                                                      "value", "source"} <= set(entry):
            raise UserError(f"{path}: entry {i} is not a reference (fields: {', '.join(sorted(FIELDS))})")
        if entry["protocol"] not in PROTOCOLS or entry.get("pm_kind") not in (None, "se", "std"):
            raise UserError(f"{path}: entry {i}: protocol one of {', '.join(PROTOCOLS)}, pm_kind se, std or null")
    return tuple(entries)


def protocol_of(params: dict) -> str:
    """The INR set a row was measured on: a zoo method's recipe tells; other methods fit their own."""
    if "inr_init_scheme" not in params:
        return "own"
    return "dwsnet-set" if params["inr_init_scheme"] == "dwsnet" and params.get("inr_offset") == 0.5 \
        else "standard SIRENs"


def match(method: str, dataset: str, head: str, params: dict) -> dict | None:
    """The reference of this row's variant, on the row's INR set where one exists."""
    found = [r for r in load_references() if (r["method"], r["dataset"], r["head"]) == (method, dataset, head)
             and all(params.get(k) == v for k, v in (r.get("params") or {}).items())]
    same = [r for r in found if r["protocol"] == protocol_of(params)]
    return (same or found or [None])[0]


def differences(ref: dict, params: dict) -> str:
    """What the row does differently from the paper's run: its INR set and any budget cut."""
    notes = []
    if (mine := protocol_of(params)) != ref["protocol"]:
        notes.append(f"INR set {mine}, paper {ref['protocol']}")
    for key, value in (ref.get("budget") or {}).items():
        if key in params and params[key] != value:
            paper = "all" if key.endswith("_limit") and value == 0 else value  # a limit of 0 is no limit
            notes.append(f"{key} {params[key]} (paper {paper})")
    return "; ".join(notes)


def compare(ref: dict, mean: float, se: float, n: int) -> str:
    """The difference in points; with n >= 3 seeds and a published ±, also in units of the
    combined error sqrt(SE_row^2 + SE_ref^2) (a published std counts as std / sqrt(seeds))."""
    diff = 100 * mean - ref["value"]
    text = f"{diff:+.2f}"
    if n >= 3 and ref.get("pm") is not None and not math.isnan(se):
        se_ref = ref["pm"] / math.sqrt(ref["seeds"]) if ref.get("pm_kind") == "std" and ref.get("seeds") \
            else ref["pm"]
        combined = math.hypot(100 * se, se_ref)
        if combined > 0:
            text += f" ({diff / combined:+.1f} σ)"
    return text


def published(ref: dict) -> str:
    return f"{ref['value']:.2f}" + (f" ± {ref['pm']:.2f}" if ref.get("pm") is not None else "")
