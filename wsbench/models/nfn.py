"""Neural functionals (Zhou et al. 2023, "Permutation Equivariant Neural Functionals").

NP treats the neurons of every layer as permutable, inputs and outputs included,
so input coordinates and output channels mix only through averages; HNP permutes
hidden neurons only and may use the identity of each input and output. Both use
the complete equivariant linear layer of their group (for HNP this group, and so
the layer space, is DWSNet's); as in the paper's INR classifiers, every weight
first becomes random Fourier features, and the head averages over permuted axes.
"""
from __future__ import annotations

import torch
from torch import nn

from wsbench.models.mlp import mlp
from wsbench.inr.siren import SirenLayout
from wsbench.models.dwsnet import EquivariantStack, WeightSpace


class NFN(nn.Module):
    """Fourier features of every weight, NP or HNP equivariant layers with batch norm
    and ReLUs, averages over the permuted axes, MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, mode: str = "hnp", channels: int = 32,
                 layers: int = 3, fourier: int = 16, head_hidden: tuple[int, ...] = (256, 256),
                 batch_norm: bool = True):
        super().__init__()
        if mode not in ("np", "hnp"):
            raise ValueError(f"mode must be 'np' or 'hnp', not {mode!r}")
        last = len(layout.widths) - 1
        self.space = WeightSpace(layout, fixed=() if mode == "np" else (0, last))
        # frequencies N(0, 1) for standardised weights; 2 pi N(0, 1) resolved finer
        # detail than the weights carry (MNIST: 74% instead of 80%)
        self.register_buffer("freqs", torch.randn(fourier))
        self.stack = EquivariantStack(self.space, [2 * fourier] + [channels] * layers, batch_norm)
        self.head = mlp(sum(self.space.folds) * channels, head_hidden, num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(..., fold) -> (..., fold * 2 * fourier): sin and cos of each value times each frequency."""
        phase = x.unsqueeze(-1) * self.freqs
        return torch.cat([phase.sin(), phase.cos()], dim=-1).flatten(-2)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        return self.head(self.space.invariant(self.stack([self.encode(x) for x in self.space.split(flat)])))
