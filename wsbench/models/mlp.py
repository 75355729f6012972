"""The multilayer perceptron every head and weight-space classifier ends in."""
from __future__ import annotations

from torch import nn


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers with ReLU (and dropout) between them; no hidden widths: one linear map."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)
