"""Batched functional SIRENs: many INRs evaluated as one tensor program.

Weights are passed as a flat tensor of shape (B, P), one row per INR, so that
hypernetworks, INR zoos and meta-learners share one layout and one forward pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

INIT_SCHEMES = ("siren", "dwsnet")


@dataclass(frozen=True)
class SirenLayout:
    """Layer widths of a SIREN, e.g. (2, 32, 32, 1), and the slicing of its flat weights."""

    widths: tuple[int, ...]
    w0: float = 30.0

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        return [(o, i) for i, o in zip(self.widths[:-1], self.widths[1:])]

    @property
    def num_params(self) -> int:
        return sum(o * i + o for o, i in self.layer_shapes)

    def init_bounds(self, scheme: str = "siren") -> torch.Tensor:
        """Per-parameter half-width of a uniform SIREN init.

        "siren" (Sitzmann et al. 2020): first layer U(-1/in, 1/in), later layers
        U(-sqrt(6/in)/w0, sqrt(6/in)/w0), biases with their layer's weights.
        "dwsnet" (the INR set of Navon et al. 2023): every layer's weights
        U(-sqrt(6/in)/w0, sqrt(6/in)/w0), biases zero; the first layer then starts
        at low frequencies, so the fit moves the weights far from their init.
        """
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"init scheme {scheme!r}: choose {' or '.join(INIT_SCHEMES)}")
        parts = []
        for k, (o, i) in enumerate(self.layer_shapes):
            bound = 1.0 / i if k == 0 and scheme == "siren" else math.sqrt(6.0 / i) / self.w0
            parts += [torch.full((o * i,), bound), torch.full((o,), bound if scheme == "siren" else 0.0)]
        return torch.cat(parts)

    def init(self, n: int, generator: torch.Generator | None = None, scheme: str = "siren") -> torch.Tensor:
        """n independent SIREN initialisations as flat rows (n, P)."""
        bounds = self.init_bounds(scheme)
        u = torch.rand(n, self.num_params, generator=generator)
        return (2 * u - 1) * bounds

    def unflatten(self, flat: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(B, P) -> [(W (B, out, in), b (B, out)), ...] as views."""
        layers, start = [], 0
        for o, i in self.layer_shapes:
            w = flat[:, start:start + o * i].reshape(-1, o, i)
            start += o * i
            b = flat[:, start:start + o]
            start += o
            layers.append((w, b))
        return layers


def siren_forward(layout: SirenLayout, flat: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate B SIRENs at coordinates.

    flat: (B, P); coords: (N, d) shared by all INRs or (B, N, d) per INR.
    Returns (B, N, out).
    """
    h = coords if coords.dim() == 3 else coords.expand(flat.shape[0], -1, -1)
    layers = layout.unflatten(flat)
    for k, (w, b) in enumerate(layers):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if k < len(layers) - 1:
            h = torch.sin(layout.w0 * h)
    return h


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1]^2, row-major, shape (H*W, 2)."""
    ys = torch.linspace(-1, 1, height)
    xs = torch.linspace(-1, 1, width)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)
    return grid.reshape(-1, 2)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-sample PSNR in dB over all but the first dimension."""
    return mse_to_psnr((pred - target).pow(2).flatten(1).mean(1), data_range)


def mse_to_psnr(mse: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    return 10 * torch.log10(data_range ** 2 / mse.clamp_min(1e-12))
