"""HyperINR's networks: the hypernetwork from a latent to SIREN weights, and Egri's encoder."""
from __future__ import annotations

import torch
from torch import nn

from wsbench.inr.fields import Field, per_sample_loss
from wsbench.inr.siren import SirenLayout, siren_forward
from wsbench.models.mlp import mlp

GENERATE_BATCH = 1024  # latents per forward pass in `generate` (memory only: no effect on the weights)


class HyperNetwork(nn.Module):
    """z -> flat SIREN weights, as a learned base SIREN plus a residual scaled by the
    SIREN init bounds, so every generated network starts as a well-initialised SIREN."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], layout: SirenLayout):
        super().__init__()
        self.layout = layout
        self.net = mlp(latent_dim, hidden, layout.num_params)
        last = self.net[-1]
        nn.init.uniform_(last.weight, -1e-2 / last.in_features ** 0.5, 1e-2 / last.in_features ** 0.5)
        nn.init.zeros_(last.bias)
        self.register_buffer("bounds", layout.init_bounds())
        self.base = nn.Parameter(layout.init(1)[0])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.base + self.bounds * self.net(z)

    def loss(self, z: torch.Tensor, field: Field, queries: torch.Tensor | None) -> torch.Tensor:
        """Per-sample loss of the generated INRs on a subset of the field's queries."""
        coords, target = field.at(queries)
        return self.loss_at(z, coords, target, field.loss)

    def loss_at(self, z: torch.Tensor, coords: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
        return per_sample_loss(kind, siren_forward(self.layout, self(z), coords), target)

    def compile_loss(self) -> None:
        """Run `loss` as one torch.compile program (batch and query counts dynamic). Its time
        goes to elementwise passes over (B, queries, width) activations (sines, their cosines
        in the backward pass), which Inductor fuses; its sine differs from ATen's in the last
        bit, so a compiled run is not bit-identical to a plain one."""
        self.loss_at = torch.compile(self.loss_at, dynamic=True)


class ConvEncoder(nn.Module):
    """Egri's encoder, reduced: residual conv blocks, global pooling, a linear map to z."""

    def __init__(self, channels: int, latent_dim: int, width: int = 32):
        super().__init__()
        def block(c_in: int, c_out: int, stride: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.Conv2d(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU())
        self.blocks = nn.ModuleList([block(channels, width, 1), block(width, 2 * width, 2),
                                     block(2 * width, 4 * width, 2)])
        self.skips = nn.ModuleList([nn.Conv2d(channels, width, 1, 1), nn.Conv2d(width, 2 * width, 1, 2),
                                    nn.Conv2d(2 * width, 4 * width, 1, 2)])
        self.head = nn.Linear(4 * width, latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, H, W, C)
        h = images.permute(0, 3, 1, 2)
        for block, skip in zip(self.blocks, self.skips):
            h = block(h) + skip(h)
        return self.head(h.mean((2, 3)))


@torch.no_grad()
def generate(hyper: HyperNetwork, z: torch.Tensor, device: torch.device, batch: int = GENERATE_BATCH) -> torch.Tensor:
    """The SIREN weights of every latent, on the CPU."""
    return torch.cat([hyper(part.to(device)).cpu() for part in z.split(batch)])
