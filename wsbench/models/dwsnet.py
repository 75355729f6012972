"""DWSNet (Navon et al. 2023, "Equivariant Architectures for Learning in Deep Weight Spaces").

Every linear map between weight spaces that commutes with permutations of the
hidden neurons is a sum of basis operations: keep each entry, or average it over
some of its permuted axes, and broadcast the result over the output's permuted
axes (of the same layer, a neighbouring one, or any layer for full averages).
EquivariantLinear groups these operations by the axes they keep and mixes
channels with one learned linear map per group. Input and output neurons are
not permuted: their indices are folded into the channels, so the maps may use
them freely.
"""
from __future__ import annotations

import math
from itertools import combinations

import torch
from torch import nn

from wsbench.models.mlp import mlp
from wsbench.inr.siren import SirenLayout


class WeightSpace:
    """A SIREN's tensors (W_1, b_1, W_2, b_2, ...) as arrays over their permuted
    neuron layers, with the indices of the `fixed` neuron layers folded into channels.

    Neuron layer k has width widths[k]; W_k is indexed by layers (k, k-1), b_k by (k,).
    """

    def __init__(self, layout: SirenLayout, fixed: tuple[int, ...]):
        self.layout = layout
        self.layers = [t for k in range(1, len(layout.widths)) for t in ((k, k - 1), (k,))]
        self.axes = [tuple(a for a in t if a not in fixed) for t in self.layers]
        self.folds = [math.prod(layout.widths[a] for a in t if a in fixed) for t in self.layers]

    def split(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """(B, P) -> per tensor (B, *permuted widths, fold)."""
        tensors = [t for w, b in self.layout.unflatten(flat) for t in (w, b)]
        out = []
        for t, layers, axes in zip(tensors, self.layers, self.axes):
            kept = [1 + p for p, a in enumerate(layers) if a in axes]
            folded = [1 + p for p, a in enumerate(layers) if a not in axes]
            out.append(t.permute(0, *kept, *folded).reshape(t.shape[0], *(t.shape[d] for d in kept), -1))
        return out

    def invariant(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """(B, sum of folds * channels): every tensor averaged over all its permuted axes."""
        return torch.cat([x.mean(list(range(1, x.dim() - 1))) if x.dim() > 2 else x for x in xs], dim=-1)


class EquivariantLinear(nn.Module):
    """The equivariant linear map between two weight-space features (c_in -> c_out channels).

    For an output tensor and each subset `keep` of its permuted axes, every input
    tensor that has those axes is averaged over its others; these are concatenated,
    mapped by one linear layer and broadcast over the axes not kept.
    """

    def __init__(self, space: WeightSpace, c_in: int, c_out: int):
        super().__init__()
        self.space = space
        self.terms: list[list[tuple[tuple[int, ...], list[int]]]] = []
        self.maps = nn.ModuleList()
        for axes, fold in zip(space.axes, space.folds):
            terms = []
            for r in range(len(axes), -1, -1):
                for keep in combinations(axes, r):
                    sources = [i for i, a in enumerate(space.axes) if set(keep) <= set(a)]
                    terms.append((keep, sources))
                    width = sum(space.folds[i] for i in sources) * c_in
                    self.maps.append(nn.Linear(width, fold * c_out, bias=not keep))
            self.terms.append(terms)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        widths = self.space.layout.widths
        pooled: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

        def pool(i: int, keep: tuple[int, ...]) -> torch.Tensor:
            # one axis at a time from the cached coarser average: the full-size
            # tensors are averaged (and back-propagated through) once per axis
            if (i, keep) not in pooled:
                axes = self.space.axes[i]
                drop = next(a for a in axes if a not in keep)
                finer = tuple(a for a in axes if a in keep or a == drop)
                x = xs[i] if finer == axes else pool(i, finer)
                pooled[i, keep] = x.mean(1 + finer.index(drop))
            return pooled[i, keep]

        maps = iter(self.maps)
        out = []
        for axes, terms in zip(self.space.axes, self.terms):
            zs = []
            for keep, sources in terms:
                parts = [xs[i] if keep == self.space.axes[i] else pool(i, keep) for i in sources]
                z = next(maps)(torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0])
                zs.append(z.view(z.shape[0], *(widths[a] if a in keep else 1 for a in axes), z.shape[-1]))
            # smallest first, so that only the last additions are full-size
            y = zs.pop()
            while zs:
                y = y + zs.pop()
            out.append(y)
        return out


class EquivariantBatchNorm(nn.Module):
    """Batch norm of every tensor's channels, with statistics over the batch and the
    tensor's permuted axes: permuting neurons moves entries but not the statistics,
    so the map stays equivariant. DWSNet uses it between its layers; without it the
    equivariant stacks here learned about twice as slowly."""

    def __init__(self, space: WeightSpace, channels: int):
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(fold * channels) for fold in space.folds)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [norm(x.reshape(-1, x.shape[-1])).view_as(x) for norm, x in zip(self.norms, xs)]


class EquivariantStack(nn.Module):
    """Equivariant linear layers (channels dims[0] -> dims[1] -> ...), each followed by
    an optional equivariant batch norm and a ReLU."""

    def __init__(self, space: WeightSpace, dims: list[int], batch_norm: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(EquivariantLinear(space, a, b) for a, b in zip(dims, dims[1:]))
        self.norms = nn.ModuleList(EquivariantBatchNorm(space, b) if batch_norm else nn.Identity() for b in dims[1:])

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        for layer, norm in zip(self.layers, self.norms):
            xs = [torch.relu(x) for x in norm(layer(xs))]
        return xs


class DWSNet(nn.Module):
    """Equivariant layers with batch norm and ReLUs, then an invariant head: averages
    over the permuted axes of every tensor, concatenated, into an MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, channels: int = 32, layers: int = 4,
                 head_hidden: tuple[int, ...] = (128,), batch_norm: bool = True):
        super().__init__()
        self.space = WeightSpace(layout, fixed=(0, len(layout.widths) - 1))
        self.stack = EquivariantStack(self.space, [1] + [channels] * layers, batch_norm)
        self.head = mlp(sum(self.space.folds) * channels, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        return self.head(self.space.invariant(self.stack(self.space.split(flat))))
