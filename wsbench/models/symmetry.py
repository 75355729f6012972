"""Exact transformations in weight space. Permuting the neurons of a hidden layer (rows
of W_k and b_k, columns of W_{k+1}) leaves a SIREN's function unchanged, so a classifier
of its weights should not see the difference; an affine change of the input coordinates
is folded into the first layer, giving the INR of the moved signal (an augmentation)."""
from __future__ import annotations

import math

import torch

from wsbench.inr.siren import SirenLayout


def permute_hidden(layout: SirenLayout, flat: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The flat weights (B, P) with the neurons of every hidden layer permuted.

    Each sample gets its own permutation per hidden layer (drawn on the CPU from
    `generator`), so one call checks invariance to many group elements at once.
    """
    layers = layout.unflatten(flat)
    ws, bs = [w for w, _ in layers], [b for _, b in layers]
    for k in range(len(layers) - 1):
        perm = torch.rand(flat.shape[0], ws[k].shape[1], generator=generator).argsort(1)
        perm = perm.to(flat.device)
        ws[k] = ws[k].gather(1, perm[:, :, None].expand_as(ws[k]))
        bs[k] = bs[k].gather(1, perm)
        ws[k + 1] = ws[k + 1].gather(2, perm[:, None, :].expand_as(ws[k + 1]))
    return torch.cat([t for w, b in zip(ws, bs) for t in (w.flatten(1), b)], dim=1)


def affine_augment(layout: SirenLayout, flat: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The INRs of the signals seen through a random rotation (±15°, 2D: about the
    normal, 3D: about z), scaling (0.9-1.1) and shift (±0.1): f(A x + t) has first
    layer W A and bias W t + b, so this is exact in weight space."""
    n, d = flat.shape[0], layout.widths[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.pi / 12
    scale = 0.9 + 0.2 * torch.rand(n, generator=gen)
    rot = torch.eye(d).repeat(n, 1, 1)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = angle.cos(), -angle.sin(), angle.sin(), angle.cos()
    a = (scale[:, None, None] * rot).to(flat)
    t = ((torch.rand(n, d, generator=gen) * 2 - 1) * 0.1).to(flat)
    o = layout.widths[1]
    w, b = flat[:, :o * d].reshape(n, o, d), flat[:, o * d:o * d + o]
    head = torch.cat([(w @ a).flatten(1), b + (w @ t[:, :, None]).squeeze(2)], 1)
    return torch.cat([head, flat[:, o * d + o:]], 1)


def flip_signs(layout: SirenLayout, flat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The flat weights (B, P) with a random sign flip of every hidden neuron: its incoming
    weights, bias and outgoing weights negated. sin is odd, so sin(-x) = -sin(x) and the
    next layer's negated weights undo it: the SIREN computes the same function."""
    layers = layout.unflatten(flat)
    ws, bs = [w for w, _ in layers], [b for _, b in layers]
    for k in range(len(layers) - 1):
        s = (torch.rand(flat.shape[0], ws[k].shape[1], generator=generator) < 0.5).to(flat) * 2 - 1
        ws[k], bs[k] = ws[k] * s[:, :, None], bs[k] * s
        ws[k + 1] = ws[k + 1] * s[:, None, :]
    return torch.cat([t for w, b in zip(ws, bs) for t in (w.flatten(1), b)], dim=1)
