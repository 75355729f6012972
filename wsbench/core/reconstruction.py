"""One reconstruction-metric scheme for every method, on the full test split.

A method hands the harness the INR of every test sample (api.Reconstruction);
the harness scores them here, the same way whatever produced them:

- images: PSNR in dB of the INR's output on every pixel, averaged over images
  (`psnr_test`);
- shapes: the mean absolute error of the predicted unsigned distance on every
  query of the shape's bank (`udf_l1_test`), and the symmetric Chamfer distance
  between the input cloud and points recovered from the predicted UDF
  (`chamfer_test`), on every test shape. The recovery starts from the same
  CHAMFER_STARTS points, uniform in the bounding cube, for every shape (never
  from the target's own queries): each is moved PROJECTION_STEPS times against
  the UDF's gradient by the predicted distance, and those that end below
  SURFACE_TOL are kept (the 256 closest when fewer than 16 do).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from wsbench.core.contracts import SHAPE_BOUND, Reconstruction, Split
from wsbench.inr.siren import pixel_grid, psnr, siren_forward

CHAMFER_STARTS = 8192
PROJECTION_STEPS = 3
SURFACE_TOL = 0.01
BATCH = 64  # INRs evaluated together
FIGURE_SHAPES = 8  # recovered surfaces kept for the figure: the first test shape of the first 8 classes


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance: mean nearest-neighbour distance a->b plus b->a (scipy's KD-tree)."""
    return float(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def chamfer_starts() -> torch.Tensor:
    """The fixed, target-independent starting points: uniform in [-SHAPE_BOUND, SHAPE_BOUND]^3."""
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.uniform(-SHAPE_BOUND, SHAPE_BOUND, (CHAMFER_STARTS, 3)).astype(np.float32))


def surface_points(rec: Reconstruction, weights: torch.Tensor, starts: torch.Tensor) -> list[torch.Tensor]:
    """Points on the predicted surfaces of a batch of INRs (B, P), from `starts` (Q, 3)."""
    p = starts.expand(len(weights), -1, -1).clone()
    for _ in range(PROJECTION_STEPS):
        p.requires_grad_(True)
        d = siren_forward(rec.layout, weights, p) + rec.offset
        (grad,) = torch.autograd.grad(d.sum(), p)
        p = (p - d * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-8)).detach()
    with torch.no_grad():
        d = (siren_forward(rec.layout, weights, p) + rec.offset)[..., 0].abs()
    return [pi[di < SURFACE_TOL] if (di < SURFACE_TOL).sum() >= 16 else pi[di.argsort()[:256]]
            for pi, di in zip(p, d)]


def score(rec: Reconstruction, test: Split, modality: str, device: torch.device,
          progress=None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metrics, figure arrays) of the test INRs against the test signals."""
    n = len(test)
    if tuple(rec.test_weights.shape) != (n, rec.layout.num_params):
        raise ValueError(f"reconstruction: expected test weights of shape ({n}, {rec.layout.num_params}), "
                         f"got {tuple(rec.test_weights.shape)}")
    batches = range(0, n, BATCH)
    batches = progress(batches, desc="reconstruction metrics", unit="batch") if progress else batches
    if modality == "image":
        _, h, w, c = test.x.shape
        grid = pixel_grid(h, w).to(device)
        scores = []
        with torch.no_grad():
            for i in batches:
                pred = siren_forward(rec.layout, rec.test_weights[i:i + BATCH].to(device), grid) + rec.offset
                scores.append(psnr(pred, test.x[i:i + BATCH].reshape(-1, h * w, c).to(device)).cpu())
        return {"psnr_test": float(torch.cat(scores).mean())}, {}
    starts, l1, cham, figure = chamfer_starts().to(device), [], [], {}
    keep = set(np.unique(test.y.numpy(), return_index=True)[1][:FIGURE_SHAPES].tolist())
    for i in batches:
        w = rec.test_weights[i:i + BATCH].to(device)
        with torch.no_grad():
            pred = siren_forward(rec.layout, w, test.coords[i:i + BATCH].to(device)) + rec.offset
            l1.append((pred - test.values[i:i + BATCH].to(device)).abs().flatten(1).mean(1).cpu())
        for j, points in enumerate(surface_points(rec, w, starts), start=i):
            points = points.cpu().numpy()
            cham.append(chamfer(points, test.x[j].numpy()))
            if j in keep:
                figure[f"recovered_{len(figure)}"] = points
    order = sorted(keep)
    figure.update(inputs=test.x[order].numpy(), labels=test.y[order].numpy())
    return {"udf_l1_test": float(torch.cat(l1).mean()), "chamfer_test": float(np.mean(cham))}, figure
