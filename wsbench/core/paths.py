"""Where things live: the project folder (the user's methods/, datasets/ and slurm/), the
prepared data and the results. Each is passed in (flag, environment variable) or defaults
to a place derived from the working directory, never from where wsbench is installed."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from wsbench.core.errors import UserError

PROJECT_ENV, DATA_ENV, RESULTS_ENV, PLUGIN_ENV = "WSBENCH_PROJECT", "WSBENCH_DATA", "WSBENCH_RESULTS", "WSBENCH_PLUGINS"
# how a message names each place
RESULTS_FLAG, DATA_FLAG = f"results folder (--results or ${RESULTS_ENV})", f"data root (--data-root or ${DATA_ENV})"
PACKAGE = Path(__file__).resolve().parent.parent
# A source checkout holds the shipped plugins beside the package; an installed wheel
# carries them as package data (pyproject.toml maps the folders into wsbench/shipped/).
SOURCE_TREE = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None


def project_root(flag: str | None = None) -> Path:
    """--project, else $WSBENCH_PROJECT, else the working directory (as benchopt takes the
    benchmark folder): its methods/ and datasets/ add to the shipped plugins."""
    root = Path(flag or os.environ.get(PROJECT_ENV) or ".").expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"project folder {root} (from --project or ${PROJECT_ENV}) does not exist")
    return root


def shipped_plugin_dirs() -> list[Path]:
    """The methods and data sets that come with wsbench: package data when installed, the
    repository's methods/ and datasets/ in a source checkout."""
    installed = PACKAGE / "shipped"
    base = installed if installed.is_dir() else SOURCE_TREE
    return [base / "methods", base / "datasets"] if base is not None else []


def plugin_dirs(project: Path, extra: list[str] | None = None) -> list[str]:
    """Every folder plugins are loaded from, each once: the shipped ones, the project's
    methods/ and datasets/, then folders from --plugins and $WSBENCH_PLUGINS."""
    dirs = [*shipped_plugin_dirs(), project / "methods", project / "datasets"]
    env = [d for d in os.environ.get(PLUGIN_ENV, "").split(os.pathsep) if d]
    for d in [*(extra or []), *env]:
        path = Path(d).expanduser().resolve()
        if not path.is_dir():
            raise UserError(f"plugin folder {d!r} (from --plugins or ${PLUGIN_ENV}) does not exist")
        dirs.append(path)
    unique = dict.fromkeys(str(d.resolve()) for d in dirs if d.is_dir())
    return list(unique)


def data_root(flag: str | None = None) -> Path:
    """--data-root, else $WSBENCH_DATA, else ~/.cache/wsbench/data; never inside wsbench's source tree."""
    raw = flag or os.environ.get(DATA_ENV) or Path.home() / ".cache" / "wsbench" / "data"
    root = Path(raw).expanduser().resolve()
    if SOURCE_TREE is not None and (root == SOURCE_TREE or SOURCE_TREE in root.parents):
        raise UserError(f"data root {root} is inside the source tree {SOURCE_TREE}; "
                        f"choose another with --data-root or ${DATA_ENV}")
    return root


def results_dir(flag: str | None = None) -> Path:
    """--results, else $WSBENCH_RESULTS, else ./results."""
    return Path(flag or os.environ.get(RESULTS_ENV) or "results").expanduser().resolve()


def require_writable(folder: Path, what: str) -> Path:
    """Make `folder` if needed and prove it writable (a file written and removed) before any
    work starts, so that a read-only or misnamed place fails at once, not after training."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".wsbench-write-check-"):
            pass
    except OSError as err:
        raise UserError(f"{what} {folder} is not writable ({err.strerror or err})") from None
    return folder
