"""Where prepared data and results live. Data never goes inside the source tree."""
from __future__ import annotations

import os
from pathlib import Path

from wsbench.discovery import REPO_ROOT
from wsbench.errors import UserError

DATA_ENV, RESULTS_ENV = "WSBENCH_DATA", "WSBENCH_RESULTS"


def data_root(flag: str | None = None) -> Path:
    """--data-root, else $WSBENCH_DATA, else ~/.cache/wsbench/data."""
    raw = flag or os.environ.get(DATA_ENV) or Path.home() / ".cache" / "wsbench" / "data"
    root = Path(raw).expanduser().resolve()
    if root == REPO_ROOT or REPO_ROOT in root.parents:
        raise UserError(f"data root {root} is inside the source tree {REPO_ROOT}; "
                        f"choose another with --data-root or ${DATA_ENV}")
    return root


def results_dir(flag: str | None = None) -> Path:
    """--results, else $WSBENCH_RESULTS, else ./results."""
    return Path(flag or os.environ.get(RESULTS_ENV) or "results").expanduser().resolve()
