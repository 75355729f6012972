"""The augmentation of training INRs that Kofinas et al. (neural graphs, ICLR 2024) apply in
their INR classification experiments, per INR and in this order:

1. translation: t ~ U(-0.25, 0.25)^d is pushed through the first `order` weight matrices,
   order ~ U{1, ..., L-1}, and added to that layer's bias (order 1 gives exactly the INR of
   the signal shifted by t; deeper orders ignore the sines in between, as their code does);
2. rotation (2D inputs only): the first layer's weights turned by an angle ~ U(-45, 45)
   degrees;
3. "noise": every weight tensor, and every bias vector of more than one entry, shifted by
   0.1 times its own standard deviation (a shift, not random noise, as in their code);
4. dropout: every entry of every tensor zeroed with probability 0.01, the rest divided by
   0.99;
5. scale: the first layer's weights times s ~ U(0.8, 1.2).

The draws are kept apart from the arithmetic (`KofinasDraws`), so that a cross-check can
replay the authors' random draws and compare the augmented weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from wsbench.inr.siren import SirenLayout

TRANSLATION = 0.25
DEGREES = 45.0
NOISE = 0.1
DROP = 0.01
RESIZE = 0.2


@dataclass
class KofinasDraws:
    """One batch's random draws, per INR: translation (B, d_in), order (B,) in 1..L-1, angle
    (B,) in degrees, keep: the kept entries of each tensor (B, *shape; W0, b0, W1, b1, ...)
    and scale (B,)."""
    translation: torch.Tensor
    order: torch.Tensor
    angle: torch.Tensor
    keep: list[torch.Tensor]
    scale: torch.Tensor

    @classmethod
    def draw(cls, layout: SirenLayout, n: int, gen: torch.Generator) -> KofinasDraws:
        layers = len(layout.layer_shapes)
        shapes = [shape for o, i in layout.layer_shapes for shape in ((o, i), (o,))]
        return cls(translation=(torch.rand(n, layout.widths[0], generator=gen) * 2 - 1) * TRANSLATION,
                   order=torch.randint(1, layers, (n,), generator=gen),
                   angle=(torch.rand(n, generator=gen) * 2 - 1) * DEGREES,
                   keep=[torch.rand(n, *shape, generator=gen) >= DROP for shape in shapes],
                   scale=1 + (torch.rand(n, generator=gen) - 0.5) * 2 * RESIZE)


def kofinas_augment(layout: SirenLayout, flat: torch.Tensor, draws: KofinasDraws, *,
                    noise: float = NOISE, drop: float = DROP) -> torch.Tensor:
    """The flat weights (B, P) augmented with these draws (`noise`: the shift's fraction of a
    tensor's std; `drop`: the dropout rate the kept entries are rescaled by). Without the
    shift, the dropout and the deeper translations (noise 0, drop 0, every entry kept, order
    1) the result is exactly the INR of the signal at s R^T x + t."""
    layers = layout.unflatten(flat)
    weights = [w for w, _ in layers]
    biases = [b for _, b in layers]
    shifted = draws.translation.to(flat)
    for k in range(len(layers) - 1):
        shifted = (layers[k][0] @ shifted[:, :, None])[:, :, 0]  # the original weights, as theirs
        biases[k] = biases[k] + (draws.order == k + 1).to(flat)[:, None] * shifted
    if layout.widths[0] == 2:
        angle = draws.angle.to(flat) * (math.pi / 180)
        cos, sin = angle.cos(), angle.sin()
        rotation_t = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # R^T
        weights[0] = weights[0] @ rotation_t  # their (in, out) weights are ours transposed: R W^T = (W R^T)^T
    weights = [w + noise * w.flatten(1).std(1)[:, None, None] for w in weights]
    biases = [b + noise * b.std(1, keepdim=True) if b.shape[1] > 1 else b for b in biases]
    tensors = [t for w, b in zip(weights, biases) for t in (w, b)]
    tensors = [t * (keep.to(flat) / (1 - drop)) for t, keep in zip(tensors, draws.keep, strict=True)]
    tensors[0] = tensors[0] * draws.scale.to(flat)[:, None, None]
    return torch.cat([t.flatten(1) for t in tensors], 1)
