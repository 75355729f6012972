"""What the cross-checks against the authors' code showed (crosscheck/<method>.py writes
<results>/crosscheck/<method>.json): beside each row, whether its network is the authors'
model reproduced function for function, and both codes' training rates."""
from __future__ import annotations

import json
from pathlib import Path

from wsbench.core.errors import UserError


def load_crosschecks(results: Path) -> dict[str, dict]:
    """The committed cross-check results under `results`, by method name."""
    docs = {}
    for path in sorted((results / "crosscheck").glob("*.json")):
        try:
            doc = json.loads(path.read_text())
            docs[doc["method"]] = doc
        except (OSError, ValueError, KeyError) as err:
            raise UserError(f"{path}: not a cross-check result ({err})") from None
    return docs


def _rates(doc: dict) -> str:
    rates = doc["samples_per_second"]
    return f"{rates['authors']:.1f} vs {rates['wsbench']:.1f} samples/s"


def covers(doc: dict | None, method_version: int | None, params: dict) -> bool:
    """Whether rows of this method version and these parameters run the network the
    cross-check reproduced (`adapter_params`: the parameter values that choose it)."""
    return (doc is not None and doc["equal"] and doc.get("adapter_version") == method_version
            and all(params.get(k) == v for k, v in (doc.get("adapter_params") or {}).items()))


def cell(doc: dict | None, method_version: int | None, params: dict) -> str:
    """The `authors' code` cell of a row of this method at this version with these parameters."""
    if doc is None:
        return ""
    if not doc["equal"]:
        return (f"differs: logits {doc['max_logit_relative_error']:.1e}, "
                f"losses {doc['max_loss_difference']:.1e}")
    if covers(doc, method_version, params):
        return f"authors' model ✓ ({_rates(doc)})"
    if doc.get("adapter_version") != method_version:
        return f"not this row's network; the authors' model is reproduced apart ({_rates(doc)})"
    chosen = sorted((doc.get("adapter_params") or {}).items())
    here = " ".join(f"{k}={params.get(k)}" for k, v in chosen if params.get(k) != v)
    return f"not the authors' model: {here} here, checked at {' '.join(f'{k}={v}' for k, v in chosen)} ({_rates(doc)})"


def section(docs: dict[str, dict]) -> str:
    """A markdown paragraph per cross-check: source, agreement, rates, and whether the
    method's rows use the checked network yet."""
    if not docs:
        return ""
    lines = ["## The authors' code", "",
             "Each check builds the authors' model from their checkout, converts its parameters into "
             "wsbench's and compares, in float64 on wsbench's digits INRs, the logits and the losses of "
             "training steps taken by both codes (`python -m crosscheck.<method> PATH`). Rates: training "
             "samples per second in float32 on one thread, both measured in the same run.", ""]
    for method, doc in sorted(docs.items()):
        source = doc["authors"]
        chosen = "".join(f" with {k}={v}" for k, v in sorted((doc.get("adapter_params") or {}).items()))
        used = (f"the rows of version {doc['adapter_version']}{chosen} use it" if doc.get("adapter_version") is not None
                else "the adapter's rows do not use it yet")
        files = doc["configuration"].get("file") or doc["configuration"].get("files") or "see the result file"
        files = ", ".join(files) if isinstance(files, list) else files
        short = (f" at the published warm-up and at {doc['short_warmup']['warmup_steps']} steps"
                 if "short_warmup" in doc else "")
        lines.append(f"- **{method}** ({files} "
                     f"at {(source.get('commit') or 'unknown commit')[:7]}): logits rel. error "
                     f"{doc['max_logit_relative_error']:.1e}, {doc['steps']}-step losses within "
                     f"{doc['max_loss_difference']:.1e}{short} -> {'equal' if doc['equal'] else 'DIFFERENT'}; "
                     f"{_rates(doc)} (authors vs wsbench); {used}.")
    return "\n".join(lines)
