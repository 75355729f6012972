"""Functa's network: a shared base SIREN whose hidden layers are shifted per sample by a
linear map of the sample's latent (Dupont et al. 2022)."""
from __future__ import annotations

import torch
from torch import nn

from wsbench.inr.fields import Field
from wsbench.inr.siren import SirenLayout, siren_forward


class ModulatedSiren(nn.Module):
    """Base SIREN weights plus, per sample, shifts of every hidden pre-activation
    (sin(w0 (W h + b) + shift)) given by a linear map of the latent."""

    def __init__(self, layout: SirenLayout, latent_dim: int):
        super().__init__()
        self.layout = layout
        self.base = nn.Parameter(layout.init(1)[0])
        index, pos = [], 0
        for o, i in layout.layer_shapes[:-1]:
            index.append(torch.arange(pos + o * i, pos + o * i + o))  # the bias entries of hidden layers
            pos += o * i + o
        self.register_buffer("shift_index", torch.cat(index))
        self.to_shifts = nn.Linear(latent_dim, len(self.shift_index))
        nn.init.zeros_(self.to_shifts.bias)

    def weights(self, z: torch.Tensor) -> torch.Tensor:
        shifts = self.to_shifts(z) / self.layout.w0  # the bias is scaled by w0 inside the sine
        flat = torch.zeros(len(z), self.base.numel(), dtype=z.dtype, device=z.device)
        return self.base + flat.index_add(1, self.shift_index, shifts)

    def loss(self, z: torch.Tensor, field: Field, queries: torch.Tensor | None) -> torch.Tensor:
        coords, target = field.at(queries)
        return field.per_sample_loss(siren_forward(self.layout, self.weights(z), coords), target)
