"""MWT as its authors built it (Gielisse & van Gemert, CVPR 2025, repository
SanderGielisse/MWT): a meta-learned SIREN start theta and per-step, per-parameter rates
fit each image in k SGD steps, and a Transformer over the fitted network's neurons
classifies the fitted offset phi - theta.

What sets it apart from wsbench.models.mwt (the adapter's own variant):
- the SIREN: a first sine layer at frequency omega, `depth` more sine layers width -> width
  at frequency 1 (weights U(+-sqrt(6/width)), no 1/w0 factor), zero biases; all of these
  are fitted per image, while the output layer (a linear map times a learned per-channel
  scale, 0.1 at the start) belongs to theta alone;
- the classifier sees the hidden->hidden layers only (not the first layer): one token per
  output neuron, its incoming weights and bias, plus a learned per-entry bias beta, times
  lambda, one shared linear embedding to the SIREN's width, then pre-norm attention and
  MLP blocks with layer scale, mean pooling and a linear head;
- the pixels of every step are drawn per image (without replacement), not per batch.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from wsbench.inr.meta import inner_sgd
from wsbench.inr.siren import SirenLayout, pixel_grid


def pixel_targets(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """wsbench's images (B, H, W, C) in [0, 1] -> the pixel grid (H*W, 2) and the targets
    (B, H*W, C) rescaled to [-1, 1], the range the authors fit."""
    b, h, w, c = images.shape
    return pixel_grid(h, w).to(images), (2 * images - 1).reshape(b, h * w, c)


def draw_pixels(batch: int, pixels: int, count: int, draws: int, generator: torch.Generator) -> list[torch.Tensor]:
    """`draws` independent draws of `count` distinct pixel indices per image (batch, count):
    one per inner step, then one for the outer reconstruction loss. The draws are those of
    torch.multinomial over uniform weights in the default dtype, so a caller that seeds this
    generator as the authors' global one draws the very same subsets."""
    uniform = torch.ones(batch, pixels)
    return [torch.multinomial(uniform, count, generator=generator) for _ in range(draws)]


def at_pixels(coords: torch.Tensor, values: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample coordinates (B, n, d) and targets (B, n, C) at per-sample query indices (B, n),
    from coordinates shared by every sample (Q, d), as pixels are, or per sample (B, Q, d), as
    a shape's UDF queries are."""
    def gather(t: torch.Tensor) -> torch.Tensor:
        return t.gather(1, idx.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
    return coords[idx] if coords.dim() == 2 else gather(coords), gather(values)


class MWTSiren(nn.Module):
    """The SIREN of the inner loop: theta (flat, wsbench's (out, in) layout) holds every
    sine layer, the part fitted per image; the output map is shared by all images."""

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, omega: float):
        super().__init__()
        self.layout = SirenLayout((in_dim,) + (width,) * (depth + 1))  # sine layers only
        self.frequencies = (omega,) + (1.0,) * depth
        bounds = [1.0 / in_dim] + [math.sqrt(6.0 / width)] * depth
        parts = []
        for (o, i), bound in zip(self.layout.layer_shapes, bounds):
            parts += [torch.empty(o * i).uniform_(-bound, bound), torch.zeros(o)]
        self.theta = nn.Parameter(torch.cat(parts))
        self.head = nn.Linear(width, out_dim)
        self.out_scale = nn.Parameter(torch.full((out_dim,), 0.1))

    def forward(self, delta: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """The SIRENs theta + delta (B, P) at per-image coordinates (B, n, d) -> (B, n, C)."""
        h = coords
        for (w, b), freq in zip(self.layout.unflatten(self.theta + delta), self.frequencies):
            h = torch.sin(freq * torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        return self.head(h) * self.out_scale


class SelfAttention(nn.Module):
    """Pre-norm multi-head attention (heads of 64 channels, no bias on q, k, v) whose output
    is scaled per channel by a learned layer scale before the residual sum."""

    def __init__(self, dim: int, head_dim: int, layer_scale: float):
        super().__init__()
        self.heads, self.head_dim = dim // head_dim, head_dim
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * self.heads * head_dim, bias=False)
        self.out = nn.Linear(self.heads * head_dim, dim)
        self.scale = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, _ = x.shape
        q, key, v = self.qkv(self.norm(x)).view(b, k, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ key.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1)
        mixed = (att @ v).transpose(1, 2).reshape(b, k, self.heads * self.head_dim)
        return x + self.scale * self.out(mixed)


class FeedForward(nn.Module):
    """Pre-norm GELU MLP with a per-channel layer scale on the residual branch."""

    def __init__(self, dim: int, mult: int, layer_scale: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))
        self.scale = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.mlp(x)


class NeuronTokenTransformer(nn.Module):
    """Logits of phi - theta (B, P). Tokens: the output neurons of the hidden->hidden layers
    (incoming weights, then bias); no positional encoding, but beta, learned per token entry
    and zero at the start, is added before the scale lambda: with beta constant over the
    tokens the network is a function of the set of tokens."""

    def __init__(self, layout: SirenLayout, num_classes: int, lam: float, blocks: int, mlp_mult: int = 1,
                 head_dim: int = 64, layer_scale: float = 0.1):
        super().__init__()
        shapes = layout.layer_shapes[1:]
        width = shapes[0][1]
        if any(i != width for _, i in shapes):
            raise ValueError(f"the classified layers must all take {width} inputs, got {shapes}")
        self.layout, self.lam = layout, lam
        self.beta = nn.Parameter(torch.zeros(sum(o for o, _ in shapes), width + 1))
        self.embed = nn.Linear(width + 1, width)
        self.blocks = nn.Sequential(*(nn.Sequential(SelfAttention(width, head_dim, layer_scale),
                                                    FeedForward(width, mlp_mult, layer_scale))
                                      for _ in range(blocks)))
        self.head = nn.Linear(width, num_classes)

    def tokens(self, delta: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, tokens, width + 1): each classified neuron's incoming weights and bias."""
        return torch.cat([torch.cat([w, b.unsqueeze(-1)], -1) for w, b in self.layout.unflatten(delta)[1:]], 1)

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        x = self.embed(self.lam * (self.tokens(delta) + self.beta))
        return self.head(self.blocks(x).mean(1))


class EndToEndMWT(nn.Module):
    """theta and the output map (`siren`), the rates of the k inner steps (k, P), drawn
    U(0.1, 1), and the classifier, trained together."""

    def __init__(self, in_dim: int, out_dim: int, num_classes: int, width: int = 128, depth: int = 4,
                 omega: float = 10.0, inner_steps: int = 6, lam: float = 500.0, blocks: int = 10,
                 mlp_mult: int = 1, head_dim: int = 64):
        super().__init__()
        self.siren = MWTSiren(in_dim, out_dim, width, depth, omega)
        self.rates = nn.Parameter(torch.empty(inner_steps, self.siren.layout.num_params).uniform_(0.1, 1.0))
        self.classifier = NeuronTokenTransformer(self.siren.layout, num_classes, lam, blocks, mlp_mult, head_dim)

    def loss(self, delta: torch.Tensor, coords: torch.Tensor, values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-image mean squared error (B,) of theta + delta at its pixels idx (B, n)."""
        where, target = at_pixels(coords, values, idx)
        return (self.siren(delta, where) - target).pow(2).mean(2).mean(1)

    def fit(self, coords: torch.Tensor, values: torch.Tensor, draws: list[torch.Tensor],
            create_graph: bool) -> torch.Tensor:
        """phi - theta after the k inner steps from theta (B, P), step j on the pixels draws[j]."""
        start = torch.zeros(len(values), self.siren.layout.num_params, dtype=values.dtype, device=values.device)
        return inner_sgd(start, self.rates, lambda delta, j: self.loss(delta, coords, values, draws[j]), create_graph)

    def forward(self, coords: torch.Tensor, values: torch.Tensor, draws: list[torch.Tensor],
                w_cls: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction loss after fitting (on the last draw) and the logits; the
        classification gradient reaches theta, the output map and the rates scaled by w_cls."""
        delta = self.fit(coords, values, draws, create_graph=torch.is_grad_enabled())
        rec = self.loss(delta, coords, values, draws[-1])
        heard = delta.detach() + w_cls * (delta - delta.detach())
        return rec, self.classifier(heard)
