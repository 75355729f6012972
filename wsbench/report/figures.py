"""Figures from run artefacts: where a picture says more than the table.

- embeddings: a 2-D PCA of each head's test embeddings (latents, or a classifier's last
  features) coloured by class: is the space the method learned semantic?
- shapes: input point clouds next to the surfaces recovered from their predicted UDFs
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from wsbench.core.fileio import atomic_write_bytes  # noqa: E402


def save_png(fig, path: Path) -> Path:
    """Write a figure as a PNG, atomically, and close it (every figure of the reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


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


def figures_for(record: dict, results: Path) -> list[Path]:
    """Every figure the run's embeddings and artefacts allow, written under results/figures/.
    Classes come from the labels the harness stored, never from the method."""
    art = results / "artifacts" / record["run_id"]
    out = results / "figures"
    title = f"{record['method']} on {record['dataset']}, seed {record['seed']}"
    written = []
    if (entry := record.get("embeddings")) and not record.get("tune"):
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
