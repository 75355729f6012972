"""Synthetic images for tests: oriented gratings, one orientation per class, plus noise."""
from pathlib import Path

import numpy as np
import torch

from wsbench.api import DataSplits, Dataset, Param, Split, sha256_bytes


class Synthetic(Dataset):
    name = "synthetic"
    description = "generated gratings (class = orientation); tiny and instant, for tests"
    needs_prepare = False
    params = {
        "classes": Param(4, "number of classes (orientations)", low=2),
        "per_class": Param(20, "images per class in each of train, val and test", low=1),
        "size": Param(8, "image side in pixels", low=2),
        "noise": Param(0.1, "standard deviation of the added noise", low=0),
        "data_seed": Param(0, "seed of the generated images (not the run seed)", low=0),
    }

    def load(self, root: Path, params: dict) -> DataSplits:
        rng = np.random.default_rng(params["data_seed"])
        c, n, s = params["classes"], params["per_class"], params["size"]
        yy, xx = np.meshgrid(np.linspace(-1, 1, s), np.linspace(-1, 1, s), indexing="ij")
        splits = []
        for _ in range(3):
            labels = np.repeat(np.arange(c), n)
            angle = np.pi * labels / c + rng.normal(0, 0.05, len(labels))
            phase = rng.uniform(0, 2 * np.pi, len(labels))
            proj = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
            img = 0.5 + 0.4 * np.sin(3 * np.pi * proj + phase[:, None, None])
            img = np.clip(img + rng.normal(0, params["noise"], img.shape), 0, 1).astype(np.float32)
            splits.append(Split(torch.from_numpy(img).unsqueeze(-1), torch.from_numpy(labels)))
        checksum = sha256_bytes(b"".join(sp.x.numpy().tobytes() for sp in splits))
        return DataSplits(self.name, "image", c, *splits, checksums={"images": checksum})
