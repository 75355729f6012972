"""A signal as samples of a field: the common input of every INR fitter.

Images are pixel values at a pixel grid shared by all samples; point clouds are
unsigned distances at per-shape query points. Methods fit INRs to Fields and so
handle both modalities with the same code (wsbench.data.fields makes them from splits).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch



@dataclass
class Field:
    coords: torch.Tensor  # (Q, d) shared by all samples, or (N, Q, d)
    values: torch.Tensor  # (N, Q, C)
    loss: str             # "mse" (pixels) or "l1" (distances, as in inr2vec)

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def shared(self) -> bool:
        return self.coords.dim() == 2

    @property
    def num_queries(self) -> int:
        return self.values.shape[1]

    @property
    def in_dim(self) -> int:
        return self.coords.shape[-1]

    @property
    def out_dim(self) -> int:
        return self.values.shape[-1]

    def take(self, idx) -> "Field":
        return Field(self.coords if self.shared else self.coords[idx], self.values[idx], self.loss)

    def to(self, device: torch.device) -> "Field":
        return Field(self.coords.to(device), self.values.to(device), self.loss)

    def split(self, size: int) -> list["Field"]:
        return [self.take(slice(i, i + size)) for i in range(0, len(self), size)]

    def at(self, queries: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Coordinates and values at a subset of query indices (all when None)."""
        if queries is None:
            return self.coords, self.values
        coords = self.coords[queries] if self.shared else self.coords[:, queries]
        return coords, self.values[:, queries]

    def sample_queries(self, fraction: float, gen: torch.Generator) -> torch.Tensor | None:
        """A random `fraction` of the query indices for one step; None (all of them) at 1."""
        return random_queries(self.num_queries, fraction, gen, self.values.device) if fraction < 1 else None

    def per_sample_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return per_sample_loss(self.loss, pred, target)


def per_sample_loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 ("l1") or squared ("mse") error per sample: (B, ...) -> (B,)."""
    err = pred - target
    return (err.abs() if kind == "l1" else err.pow(2)).flatten(1).mean(1)


def random_queries(n_queries: int, fraction: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """A random subset of query indices (pixels, UDF points): the cheap stochastic step
    that HyperINR, Functa and MWT all take."""
    k = max(1, round(n_queries * fraction))
    return torch.randperm(n_queries, generator=gen)[:k].to(device)
