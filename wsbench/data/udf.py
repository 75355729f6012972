"""Unsigned distance functions of point clouds: the 3D signal an INR represents (inr2vec protocol).

Per shape, a fixed bank of query points (on the surface, near it at several noise
levels, and uniform in the bounding volume) with their distances to the cloud,
from a KD-tree (scipy). Training steps re-sample subsets of this bank.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from wsbench.core.contracts import SHAPE_BOUND
from wsbench.core.fileio import atomic_write_bytes, atomic_write_json
from wsbench.core.timing import Clock, shared_cost

SIGMAS = (0.003, 0.01, 0.1)
CLAMP = 0.1


def udf_queries(points: np.ndarray, per_level: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Queries (5 * per_level, 3) and their clamped distances to `points` (P, 3):
    per_level each at the surface, at N(0, sigma) offsets for each sigma, and uniform."""
    parts = [points[rng.integers(0, len(points), per_level)]]
    for sigma in SIGMAS:
        base = points[rng.integers(0, len(points), per_level)]
        parts.append(base + rng.normal(0.0, sigma, base.shape))
    parts.append(rng.uniform(-SHAPE_BOUND, SHAPE_BOUND, (per_level, 3)))
    queries = np.concatenate(parts).astype(np.float32)
    return queries, unsigned_distance(points, queries)


def unsigned_distance(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distance from each query to its nearest cloud point, clamped at CLAMP."""
    dist, _ = cKDTree(points).query(queries)
    return np.minimum(dist, CLAMP).astype(np.float32)


def udf_bank(clouds: np.ndarray, per_level: int, seed: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Query banks for N clouds: (N, Q, 3) coordinates and (N, Q, 1) distances.
    Each shape has its own generator, so a shape's queries do not depend on the others."""
    n, q = len(clouds), 5 * per_level
    coords = np.empty((n, q, 3), np.float32)
    values = np.empty((n, q, 1), np.float32)
    for i in (progress(range(n)) if progress else range(n)):
        coords[i], values[i, :, 0] = udf_queries(clouds[i], per_level, np.random.default_rng([seed, i]))
    return coords, values


def attach_udf(data, cache_dir: Path, per_level: int, seed: int, progress=None) -> None:
    """Give every split of a point-cloud DataSplits its UDF query bank, computed once per
    (clouds, per_level, seed) and cached under the data root with what building it cost;
    every run that uses a bank carries that cost (`data.shared_costs`)."""
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        clouds = np.ascontiguousarray(split.x.numpy())
        key = hashlib.sha256(clouds.tobytes() + f"{per_level}:{seed}".encode()).hexdigest()[:16]
        path, side = cache_dir / f"udf-{name}-{key}.npz", cache_dir / f"udf-{name}-{key}.json"
        clock = Clock()
        try:
            cost = json.loads(side.read_text())
            with np.load(path) as cached:
                coords, values = cached["coords"], cached["values"]
            here = {"wall_s": 0.0, "cpu_s": 0.0}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # none yet, or a broken one: build it
            bar = (lambda it: progress(it, desc=f"UDF queries ({name})", unit="shape")) if progress else None
            coords, values = udf_bank(clouds, per_level, seed, bar)
            buffer = io.BytesIO()
            np.savez(buffer, coords=coords, values=values)
            atomic_write_bytes(path, buffer.getvalue())
            cost = here = clock.elapsed()
            atomic_write_json(side, cost)
        split.coords, split.values = torch.from_numpy(coords), torch.from_numpy(values)
        data.checksums[f"udf_{name}"] = key
        data.shared_costs[f"udf bank {name} {key}"] = shared_cost(cost, here)
