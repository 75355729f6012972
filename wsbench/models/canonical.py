"""The phase fold that ScaleGMN's authors apply to every INR before training (their
`switch_to_canon` preprocessing, Kalogeropoulos et al. 2024), written from what it computes.

A neuron sin(z), z = w.x + b, keeps its output under two changes of (w, b):
  - b -> b + 2π (sin has period 2π);
  - (w, b) -> (-w, π - b) (sin(π - z) = sin z).
The fold uses them to bring each neuron's bias near [-π/2, π/2], neuron by neuron (no
outgoing weight changes), in these steps on r = |b|:
  1. r -> r mod 2π when r > 2π;
  2. r in (π, 2π]:   r -> r + π, w -> -w;
  3. r in (π/2, π]:  r -> r - π, w -> -w;
  4. b -> sign(b) r times the sign w took (sign(0) = +1).
Altogether (w, b) -> (σ w, σ (b + mπ)) for an integer m and σ = (-1)^m, so sin(w.x + b) is
kept. Step 2 adds π where a reduction towards [-π/2, π/2] would subtract it (the authors'
code does so), so a bias whose |b| mod 2π lies in (π, 2π] ends in (2π, 3π]: the same
neuron, but no canonical form.

On a SIREN, sin(w0 (w.x + b)) with w0 = 30 (the authors' INRs and wsbench's):
  - the fold reads b itself as the phase, where a SIREN's phase is w0 b: a shift of b by π
    moves the phase by 30π, which changes nothing, so a neuron whose w flipped (|b| mod 2π
    above π/2) outputs the negative of what it did, with its outgoing weights unchanged:
    the INR's function changes. The output layer, which is linear, is folded too;
  - whenever every |b| <= π/2 it is the identity, and SIREN biases are far smaller (below
    0.06 on the cross-check's digits INRs): in practice it changes nothing.
It commutes with sign flips of hidden neurons (w, b and outgoing weights negated), so it
keeps a sign-invariant classifier sign invariant.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from wsbench.inr.siren import SirenLayout


def fold_phases(layout: SirenLayout, flat: torch.Tensor) -> torch.Tensor:
    """The authors' phase fold of flat weights (B, P), every neuron of every layer."""
    parts = []
    for w, b in layout.unflatten(flat):
        r = b.abs()
        r = torch.where(r > 2 * math.pi, r % (2 * math.pi), r)
        up = (r > math.pi) & (r <= 2 * math.pi)
        r = torch.where(up, r + math.pi, r)
        down = (r > math.pi / 2) & (r <= math.pi)
        r = torch.where(down, r - math.pi, r)
        flip = torch.where(up | down, -1.0, 1.0).to(b)
        sign = torch.where(b < 0, -1.0, 1.0).to(b)
        parts += [(flip[:, :, None] * w).flatten(1), sign * flip * r]
    return torch.cat(parts, dim=1)


class PhaseFolded(nn.Module):
    """A network that reads every INR as the authors' pipeline hands it over: phase-folded;
    then, once `divide_by` has set a positive divisor per weight (the training zoo's per-tensor
    std), divided by it. The fold reads raw biases against multiples of π, so the division comes
    after it; a positive divisor keeps a sign flip a sign flip."""

    def __init__(self, layout: SirenLayout, net: nn.Module):
        super().__init__()
        self.layout, self.net = layout, net
        self.register_buffer("divisor", None)  # in the state dict only once set

    def divide_by(self, divisor: torch.Tensor) -> None:
        """Divide every phase-folded INR's flat weights (B, P) by `divisor` (P,), all positive."""
        if divisor.shape != (self.layout.num_params,) or not bool((divisor > 0).all()):
            raise ValueError(f"divisor: expected {self.layout.num_params} positive entries, got {tuple(divisor.shape)}")
        self.divisor = divisor.to(next(self.net.parameters()))

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        folded = fold_phases(self.layout, flat)
        return self.net(folded if self.divisor is None else folded / self.divisor)
