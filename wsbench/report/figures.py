"""Figures from run artefacts: where a picture says more than the table.

- embeddings: a 2-D PCA of each head's test embeddings (latents, or a classifier's last
  features) coloured by class: is the space the method learned semantic?
- shapes: input point clouds next to the surfaces recovered from their predicted UDFs
- budget curves: validation accuracy against training samples seen, of tuning runs trained
  longer than the table's rows, with the rows' budget marked: is a row converged?
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from wsbench.core.fileio import atomic_write_bytes  # noqa: E402

# Figures are committed with the reference table, so each stays small: a palette of 256
# colours (fewer only where a figure would still be larger than this) looks the same as
# matplotlib's full-colour PNG of a scatter of thousands of translucent points at a third of its size.
MAX_PNG_BYTES = 150_000
PALETTES = (256, 128, 64, 32)


def save_png(fig, path: Path) -> Path:
    """Write a figure as a small PNG (`small_png`), atomically, and close it (every figure of the reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, small_png(buffer.getvalue()))
    return path


def small_png(png: bytes) -> bytes:
    """An opaque PNG as an optimised palette PNG: the largest palette of PALETTES that fits
    MAX_PNG_BYTES, or the smallest palette where none does."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in PALETTES:
        out = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            out, format="png", optimize=True)
        if out.tell() <= MAX_PNG_BYTES:
            break
    return out.getvalue()


def latent_pca(z: np.ndarray, y: np.ndarray, title: str, path: Path) -> Path:
    xy = PCA(n_components=2, random_state=0).fit_transform(z)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="tab20" if y.max() >= 10 else "tab10", s=4, alpha=0.7)
    fig.colorbar(points, ax=ax, label="class")
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    return save_png(fig, path)


def shapes_figure(inputs: np.ndarray, recovered: list[np.ndarray], title: str, path: Path) -> Path:
    n = len(recovered)
    fig = plt.figure(figsize=(2.4 * n, 5))
    for i in range(n):
        for row, (cloud, label) in enumerate(((inputs[i], "input"), (recovered[i], "from UDF"))):
            ax = fig.add_subplot(2, n, row * n + i + 1, projection="3d")
            ax.scatter(cloud[:, 0], cloud[:, 2], cloud[:, 1], s=1, c=cloud[:, 1], cmap="viridis")
            ax.set_axis_off()
            ax.set_title(label, fontsize=8)
            ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1))
    fig.suptitle(title)
    return save_png(fig, path)


def per_epoch(record: dict) -> float:
    """Training samples of one epoch: the INRs (with their views) of a zoo method, else the
    training split."""
    metrics = record.get("metrics", {})
    return metrics.get("train_inrs", metrics.get("train_samples", np.nan))


def samples_seen(record: dict, head: str) -> np.ndarray:
    """Training samples seen at each validation point of a head's curve; the points are
    spread evenly over the run's epochs."""
    points = len(record["heads"][head]["val_curve"])
    return np.arange(1, points + 1) / points * record["params"]["epochs"] * per_epoch(record)


BUDGET_PARAMS = ("epochs", "evals")  # how long a run trains and how often it is evaluated, not what it trains


def table_point(run: dict, head: str, table_runs: list[dict]) -> tuple[int, float] | None:
    """The epochs and the validation accuracy of the table's run of `run`'s method, head and
    configuration (every parameter but the budget's), of `run`'s seed where the table has it;
    None where the table has no such row. The table's run stopped its own schedule at its
    budget, so its accuracy there is its own, not the longer run's at that point."""
    def configuration(r: dict) -> str:
        return json.dumps({k: v for k, v in r["params"].items() if k not in BUDGET_PARAMS}, sort_keys=True,
                          default=str)

    same = [r for r in table_runs if r["status"] == "ok" and "epochs" in r["params"] and r["method"] == run["method"]
            and head in r["heads"] and configuration(r) == configuration(run)]
    if not same:
        return None
    row = next((r for r in same if r.get("seed") == run.get("seed")), same[0])
    return row["params"]["epochs"], row["heads"][head]["val_acc"]


def budget_curves(tune_runs: list[dict], table_runs: list[dict], title: str, path: Path) -> Path | None:
    """Validation accuracy against training samples seen for each tuning run that has epochs
    (one line per method and head); a dot at the budget and validation accuracy of the
    table's run of the same configuration (`table_point`), on the same scale. None when no
    tuning run has a curve."""
    lines = [(r, head) for r in tune_runs if r["status"] == "ok" and "epochs" in r["params"]
             and not np.isnan(per_epoch(r)) for head in r["heads"]]
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for r, head in sorted(lines, key=lambda item: (item[0]["method"], item[1])):
        x, y = samples_seen(r, head), 100 * np.asarray(r["heads"][head]["val_curve"])
        label = r["method"] if len(r["heads"]) == 1 else f"{r['method']} {head}"
        if "network" in r["params"]:  # methods that offer the authors' network and their own
            label += f" network={r['params']['network']}"
        (line,) = ax.plot(x, y, label=f"{label} ({r['params']['epochs']} epochs, seed {r['seed']})")
        if (point := table_point(r, head, table_runs)) is not None:  # on this run's scale
            epochs, val_acc = point
            ax.plot([epochs * per_epoch(r)], [100 * val_acc], "o", color=line.get_color(), markersize=7)
    ax.set(xscale="log", xlabel="training samples seen (log)", ylabel="validation accuracy %",
           title=f"{title}: validation accuracy against budget (dots: the table's runs, at their budget)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def figures_for(record: dict, results: Path) -> list[Path]:
    """Every figure the run's embeddings and artefacts allow, written under results/figures/.
    Classes come from the labels the harness stored, never from the method."""
    art = results / "artifacts" / record["run_id"]
    out = results / "figures"
    title = f"{record['method']} on {record['dataset']}, seed {record['seed']}"
    written = []
    if (entry := record.get("embeddings")) and entry["file"] and not record.get("tune"):
        with np.load(results / entry["file"]) as f, np.load(results / record["labels"]["file"]) as labels:
            for head in entry["width"]:
                written.append(latent_pca(f[f"test:{head}"].astype(np.float32), labels["test"],
                                          f"test embeddings of head {head} (PCA): {title}",
                                          out / f"{record['run_id']}-{head}-embeddings.png"))
    if (art / "shapes.npz").is_file():
        with np.load(art / "shapes.npz") as f:
            recovered = [f[f"recovered_{i}"] for i in range(len(f["inputs"])) if f"recovered_{i}" in f]
            written.append(shapes_figure(f["inputs"], recovered, title, out / f"{record['run_id']}-shapes.png"))
    return written
