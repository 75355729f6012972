"""Which methods learn the same thing: two views of the functional similarity of the
embeddings that runs keep (one vector per held-out sample and head).

- Debiased linear CKA (Kornblith et al., ICML 2019, with the unbiased HSIC estimator of
  Song et al., 2012): plain linear CKA is far from 0 for independent features once their
  width nears the number of samples; the debiased estimate is near 0 for them. Computed
  from the features (n x d), never from n x n Gram matrices.
- The hypernetwork score (J. Singh, "New POVs on hypernetworks", 2025): one small
  hypernetwork H maps a learned code per method to a linear classifier of that method's
  embeddings. H is trained briefly on every method's validation embeddings together; then,
  for each ordered pair (A, B), one step of fixed length on H's weights against A's test
  loss alone, and the drop of B's test loss, divided by the drop of A's own: near 1 when
  training on A helps B as much as A, near 0 when it does not touch B.
"""
from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tabulate import tabulate
from torch import nn

from wsbench.core.errors import Notice, UserError
from wsbench.core.fileio import atomic_write_bytes
from wsbench.core.protocol import principal_components
from wsbench.core.records import EMBEDDINGS_SEED
from wsbench.report.figures import plt, save_png
from wsbench.report.tables import config_labels, dedupe, row_name

# The hypernetwork score's settings, stated once: every embedding is projected to WIDTH
# principal components (fitted on validation, signs by the third-moment rule) and scaled
# to unit mean square; H maps a CODE-dimensional code through HIDDEN units to a linear
# head; it trains TRAIN_STEPS full-batch Adam steps at LR; the probing step has length STEP
# (Euclidean norm over H's weights).
WIDTH, CODE, HIDDEN, TRAIN_STEPS, LR, STEP = 16, 8, 64, 50, 1e-2, 0.05


def debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA of two embeddings of the same n samples (rows), n >= 4."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) != len(y) or len(x) < 4:
        raise ValueError(f"CKA needs the same samples, at least 4: got {len(x)} and {len(y)}")

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        n = len(a)
        ka, kb = (a * a).sum(1), (b * b).sum(1)  # the Gram matrices' diagonals, removed below
        trace = np.sum((a.T @ b) ** 2) - ka @ kb
        sum_a, sum_b = a.sum(0) @ a.sum(0) - ka.sum(), b.sum(0) @ b.sum(0) - kb.sum()
        rows_a, rows_b = a @ a.sum(0) - ka, b @ b.sum(0) - kb
        return (trace + sum_a * sum_b / ((n - 1) * (n - 2)) - 2 * rows_a @ rows_b / (n - 2)) / (n * (n - 3))

    denominator = np.sqrt(max(hsic(x, x), 0.0) * max(hsic(y, y), 0.0))
    return float(hsic(x, y) / denominator) if denominator > 0 else float("nan")


def cka_matrix(test: dict[str, np.ndarray]) -> np.ndarray:
    names = list(test)
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            out[i, j] = out[j, i] = debiased_cka(test[a], test[names[j]])
    return out


def project(val: np.ndarray, test: np.ndarray, width: int = WIDTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits on the leading principal components of validation, scaled so that the
    validation projection has unit mean square."""
    val, test = np.asarray(val, np.float64), np.asarray(test, np.float64)
    mean, axes = val.mean(0), principal_components(val, min(width, val.shape[1]))
    pv, pt = (val - mean) @ axes, (test - mean) @ axes
    if pv.shape[1] < width:  # a narrower embedding: zero columns carry nothing
        pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
        pv, pt = pad(pv), pad(pt)
    scale = np.sqrt((pv ** 2).sum(1).mean()) or 1.0
    return torch.tensor(pv / scale, dtype=torch.float32), torch.tensor(pt / scale, dtype=torch.float32)


@dataclass
class HyperScores:
    mean: np.ndarray  # (M, M): row A, column B: B's drop / A's drop, averaged over restarts
    spread: np.ndarray  # (M, M): standard deviation over restarts
    own_drop: np.ndarray  # (restarts, M): A's own test-loss drop; <= 0 means the score is undefined


def one_hypernetwork(val: list[tuple[torch.Tensor, torch.Tensor]], test: list[tuple[torch.Tensor, torch.Tensor]],
                     num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One restart: (normalised drops (M, M), each method's own drop (M,))."""
    m, width = len(val), val[0][0].shape[1]
    with torch.random.fork_rng():  # the caller's random state is left as it was
        torch.manual_seed(seed)
        hyper = nn.Sequential(nn.Linear(CODE, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, (width + 1) * num_classes))
    codes = nn.Parameter(torch.zeros(m, CODE))  # one start for all: identical embeddings keep identical codes

    def loss(i: int, split: list) -> torch.Tensor:
        head = hyper(codes[i]).view(num_classes, width + 1)
        x, y = split[i]
        return nn.functional.cross_entropy(x @ head[:, :-1].T + head[:, -1], y)

    opt = torch.optim.Adam([*hyper.parameters(), codes], lr=LR)
    for _ in range(TRAIN_STEPS):
        opt.zero_grad()
        sum(loss(i, val) for i in range(m)).backward()
        opt.step()
    weights = list(hyper.parameters())
    with torch.no_grad():
        before = np.array([loss(i, test).item() for i in range(m)])
    drops = np.zeros((m, m))
    for a in range(m):
        grads = torch.autograd.grad(loss(a, test), weights)
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        with torch.no_grad():
            for w, g in zip(weights, grads):
                w -= STEP * g / norm
            drops[a] = before - np.array([loss(b, test).item() for b in range(m)])
            for w, g in zip(weights, grads):
                w += STEP * g / norm
    with np.errstate(divide="ignore", invalid="ignore"):  # an own drop of 0 is masked by the caller
        return drops / drops.diagonal()[:, None], drops.diagonal().copy()


def hypernetwork_scores(val: dict[str, tuple[np.ndarray, np.ndarray]], test: dict[str, tuple[np.ndarray, np.ndarray]],
                        num_classes: int, restarts: int = 3, seed: int = 0) -> HyperScores:
    """The normalised drops for every ordered pair, over `restarts` hypernetworks (seeds
    seed, seed + 1, ...); `val` and `test` map each method to (embeddings, labels)."""
    names = list(val)
    projected = {n: project(val[n][0], test[n][0]) for n in names}
    as_split = lambda split, k: [(projected[n][k], torch.as_tensor(split[n][1], dtype=torch.long))  # noqa: E731
                                 for n in names]
    runs = [one_hypernetwork(as_split(val, 0), as_split(test, 1), num_classes, seed + r) for r in range(restarts)]
    scores, own = np.stack([s for s, _ in runs]), np.stack([d for _, d in runs])
    scores[np.broadcast_to((own <= 0)[:, :, None], scores.shape)] = np.nan  # A's loss did not drop
    with warnings.catch_warnings():  # a pair undefined in every restart stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return HyperScores(np.nanmean(scores, 0), np.nanstd(scores, 0), own)


def heatmap(matrix: np.ndarray, names: list[str], title: str, path: Path) -> Path:
    width = 1.2 + 0.75 * len(names)
    fig, ax = plt.subplots(figsize=(width, 1.0 + 0.65 * len(names)))
    image = ax.imshow(matrix, cmap="viridis", vmin=min(0.0, np.nanmin(matrix)), vmax=max(1.0, np.nanmax(matrix)))
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, "—" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value < 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(image, ax=ax)
    ax.set_title(textwrap.fill(title, int(9 * width)), fontsize=9)  # wrapped to stay clear of the colour bar
    return save_png(fig, path)


def embeddings_of(records: list[dict], results: Path) -> tuple[dict, dict, int]:
    """(val, test, number of classes): row name -> (embeddings, labels) of every head of the
    records that keep embeddings, all scored against the same labels (the most common)."""
    keep = [r for r in records if (r.get("embeddings") or {}).get("file")]
    groups: dict[str, list[dict]] = {}
    for r in keep:
        groups.setdefault(r["labels"]["file"], []).append(r)
    if not groups:
        raise UserError(f"no run records with embeddings here (only seed {EMBEDDINGS_SEED}'s runs keep them; "
                        "runs of wsbench before record schema 3 keep none)")
    labels_file, chosen = max(groups.items(), key=lambda item: len(item[1]))
    if dropped := [r for g, rs in groups.items() if g != labels_file for r in rs]:
        warnings.warn(f"left out {len(dropped)} record(s) scored on other samples: "
                      f"{', '.join(r['run_id'] for r in dropped)}", Notice)
    with np.load(results / labels_file) as y:
        y_val, y_test = y["val"], y["test"]
    val, test = {}, {}
    for r, config in zip(chosen, config_labels(chosen)):
        with np.load(results / r["embeddings"]["file"]) as e:
            for head in r["embeddings"]["width"]:
                name = row_name(r["method"], config, head)
                val[name], test[name] = (e[f"val:{head}"], y_val), (e[f"test:{head}"], y_test)
    return val, test, int(max(y_val.max(), y_test.max()) + 1)


def similarity_report(records: list[dict], results: Path, dataset: str, seed: int, out: Path,
                      restarts: int = 3) -> tuple[str, list[Path]]:
    """Both matrices of one data set and seed as markdown tables (printed) and CSV and PNG
    files under `out`."""
    chosen = dedupe([r for r in records if r["dataset"] == dataset and r["seed"] == seed and r["status"] == "ok"
                     and not r.get("tune")])
    if not chosen:
        raise UserError(f"no ok run records of {dataset} seed {seed} under {results}")
    val, test, num_classes = embeddings_of(chosen, results)
    if len(val) < 2:
        raise UserError(f"{dataset} seed {seed}: {len(val)} head(s) with embeddings; similarity needs two "
                        f"(run more methods: wsbench run --method ... --dataset {dataset} --seeds {seed}-{seed})")
    names = list(val)
    cka = cka_matrix({n: test[n][0] for n in names})
    hyper = hypernetwork_scores(val, test, num_classes, restarts=restarts)
    frames = {"cka": pd.DataFrame(cka, index=names, columns=names),
              "hypernetwork": pd.DataFrame(hyper.mean, index=names, columns=names),
              "hypernetwork-spread": pd.DataFrame(hyper.spread, index=names, columns=names)}
    paths = []
    for stem, frame in frames.items():
        atomic_write_bytes(out / f"{stem}.csv", frame.to_csv(float_format="%.4f").encode())
        paths.append(out / f"{stem}.csv")
    paths.append(heatmap(cka, names, f"debiased linear CKA, test embeddings ({dataset}, seed {seed})",
                         out / "cka.png"))
    paths.append(heatmap(hyper.mean, names, f"hypernetwork score: B's loss drop / A's (row A, column B; "
                                            f"{dataset}, seed {seed}, {restarts} restarts)", out / "hypernetwork.png"))
    pm = pd.DataFrame([[("—" if np.isnan(m) else f"{m:.2f} ± {s:.2f}") for m, s in zip(rm, rs)]
                       for rm, rs in zip(hyper.mean, hyper.spread)], index=names, columns=names)
    undefined = [names[a] for a in range(len(names)) if (hyper.own_drop[:, a] <= 0).all()]
    text = [f"Debiased linear CKA of the test embeddings ({dataset}, seed {seed}, {len(test[names[0]][1])} samples):",
            tabulate(frames["cka"].round(3), headers="keys", tablefmt="github"), "",
            f"Hypernetwork score (row A, column B: drop of B's test loss after one step on A's, over A's own drop; "
            f"mean ± std over {restarts} restarts):", tabulate(pm, headers="keys", tablefmt="github")]
    if undefined:
        text.append(f"A's own loss did not drop (no score): {', '.join(undefined)}")
    return "\n".join(text), paths
