"""The symmetry-blind baseline: an MLP on the flat weight vector, which has to
learn from data that permuted hidden neurons describe the same INR."""
from __future__ import annotations

import torch
from torch import nn

from wsbench.models.mlp import mlp
from wsbench.inr.siren import SirenLayout


class FlatMLP(nn.Module):
    def __init__(self, layout: SirenLayout, num_classes: int, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        self.net = mlp(layout.num_params, hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        return self.net(flat)
