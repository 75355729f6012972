"""The symmetry weight-space classifiers must respect: permuting the neurons of a
hidden layer (rows of W_k and b_k, columns of W_{k+1}) leaves a SIREN's function
unchanged, so a classifier of its weights should not see the difference."""
from __future__ import annotations

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
