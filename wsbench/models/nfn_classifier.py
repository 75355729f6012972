"""NFN as its authors classify INRs (Zhou et al. 2023, "Permutation Equivariant Neural
Functionals", their SIREN-classification configuration): random Fourier features of every
raw weight, HNP NF-layers with ReLUs, HNP pooling and an MLP head with dropout.

HNP permutes the hidden neurons only: the indices of the input and output neurons are folded
into channels. Features are kept per layer as W_i (B, n_i, n_{i-1}, C) and b_i (B, n_i, C),
channels last. An NF-layer adds, for every output entry, linear maps of
  - the summary: averages of every tensor over its permuted axes (B, C * (2L + n_0 + 2 n_L));
  - the descriptors of the hidden neurons the entry touches: for neuron h of layer k, the
    mean of its incoming weights, its bias, the mean of its outgoing weights, and all its
    incoming (k = 1) or outgoing (k = L - 1) weights, whose other end is not permuted;
  - in hidden-to-hidden weights, the entry itself.
Which descriptor parts each map reads, in which order, and how the maps share their
initialisation follow the authors' layer, so that their parameters convert one to one and
training takes the same steps (the last weight's map has no bias of the neuron, as theirs).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from wsbench.inr.siren import SirenLayout
from wsbench.models.mlp import mlp

# Descriptor parts read by each map (see the module docstring); absent parts are skipped.
FIRST_WEIGHT_PARTS = ("in_all", "out_mean", "bias", "out_all")  # also the first bias
LAST_WEIGHT_PARTS = ("out_all", "in_mean", "in_all")
COLUMN_PARTS = ("out_mean", "in_mean", "bias", "in_all")  # neuron of W_i's column (layer i - 1)
ROW_PARTS = ("in_mean", "bias", "out_mean", "out_all")  # neuron of W_i's row (layer i); also b_i


def fold(x: torch.Tensor) -> torch.Tensor:
    """(B, n, m, C) -> (B, n, C * m): a fixed axis folded into channels, channel-major."""
    return x.transpose(-1, -2).flatten(-2)


def unfold(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, ..., C * m) -> (B, ..., m, C), the inverse of `fold`."""
    return x.unflatten(-1, (-1, m)).transpose(-1, -2)


def shared_uniform_(maps: list[nn.Linear]) -> None:
    """Maps summed into one output start as one linear map of their joined inputs would:
    weights and biases U(-1/sqrt(fan-in), 1/sqrt(fan-in)) over the total fan-in."""
    bound = 1 / math.sqrt(sum(m.in_features for m in maps))
    for m in maps:
        nn.init.uniform_(m.weight, -bound, bound)
        nn.init.uniform_(m.bias, -bound, bound)


class HNPLayer(nn.Module):
    """One HNP NF-layer, c_in -> c_out channels per (folded) entry."""

    def __init__(self, widths: tuple[int, ...], c_in: int, c_out: int):
        super().__init__()
        self.widths = widths
        depth, n_in, n_out = len(widths) - 1, widths[0], widths[-1]
        if depth < 2:
            raise ValueError("an HNP layer needs at least one hidden layer of neurons")
        summary = (2 * depth + n_in + 2 * n_out) * c_in
        self.weight_maps, self.bias_maps = nn.ModuleList(), nn.ModuleList()
        for i in range(1, depth + 1):
            if i == 1:
                parts = self.width(FIRST_WEIGHT_PARTS, 1, c_in)
                w = {"neuron": nn.Linear(parts, n_in * c_out), "summary": nn.Linear(summary, n_in * c_out)}
                b = {"neuron": nn.Linear(parts, c_out), "summary": nn.Linear(summary, c_out)}
                for m in w.values():  # each alone, as PyTorch's default: the authors do not share these
                    shared_uniform_([m])
            elif i == depth:
                parts = self.width(LAST_WEIGHT_PARTS, depth - 1, c_in)
                w = {"neuron": nn.Linear(parts, n_out * c_out), "summary": nn.Linear(summary, n_out * c_out)}
                b = {"summary": nn.Linear(summary, n_out * c_out)}
            else:
                rows = self.width(ROW_PARTS, i, c_in)
                w = {"entry": nn.Linear(c_in, c_out), "summary": nn.Linear(summary, c_out),
                     "column": nn.Linear(self.width(COLUMN_PARTS, i - 1, c_in), c_out),
                     "row": nn.Linear(rows, c_out)}
                b = {"row": nn.Linear(rows, c_out), "summary": nn.Linear(summary, c_out)}
            if i > 1:
                shared_uniform_(list(w.values()))
            shared_uniform_(list(b.values()))
            self.weight_maps.append(nn.ModuleDict(w))
            self.bias_maps.append(nn.ModuleDict(b))

    def width(self, parts: tuple[str, ...], k: int, c: int) -> int:
        """Channels of the named descriptor parts of a neuron of hidden layer k."""
        sizes = {"in_mean": c, "bias": c, "out_mean": c}
        if k == 1:
            sizes["in_all"] = self.widths[0] * c
        if k == len(self.widths) - 2:
            sizes["out_all"] = self.widths[-1] * c
        return sum(sizes[p] for p in parts if p in sizes)

    @staticmethod
    def descriptors(ws: list[torch.Tensor], bs: list[torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        """The parts describing every neuron of hidden layer k, each (B, n_k, channels)."""
        parts = {"in_mean": ws[k - 1].mean(2), "bias": bs[k - 1], "out_mean": ws[k].mean(1)}
        if k == 1:
            parts["in_all"] = fold(ws[0])
        if k == len(ws) - 1:
            parts["out_all"] = fold(ws[-1].transpose(1, 2))
        return parts

    @staticmethod
    def summary(ws: list[torch.Tensor], bs: list[torch.Tensor]) -> torch.Tensor:
        """What no permutation of hidden neurons changes: every tensor's mean, the first
        weight's column means, the last weight's row means and the last bias."""
        means = [w.mean((1, 2)) for w in ws] + [b.mean(1) for b in bs]
        fixed = [ws[0].mean(1), ws[-1].mean(2), bs[-1]]
        return torch.cat(means + [x.transpose(1, 2).flatten(1) for x in fixed], dim=-1)

    def forward(self, ws: list[torch.Tensor], bs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        depth = len(ws)
        s = self.summary(ws, bs)
        neurons = [None] + [self.descriptors(ws, bs, k) for k in range(1, depth)]

        def read(parts: tuple[str, ...], k: int) -> torch.Tensor:
            return torch.cat([neurons[k][p] for p in parts if p in neurons[k]], dim=-1)

        out_ws, out_bs = [], []
        for i, (w_maps, b_maps) in enumerate(zip(self.weight_maps, self.bias_maps), start=1):
            if i == 1:  # rows: hidden neurons of layer 1; columns: the inputs, folded
                x = read(FIRST_WEIGHT_PARTS, 1)
                w = unfold(w_maps["neuron"](x) + w_maps["summary"](s)[:, None], self.widths[0])
                b = b_maps["neuron"](x) + b_maps["summary"](s)[:, None]
            elif i == depth:  # columns: hidden neurons of layer L - 1; rows: the outputs, folded
                x = read(LAST_WEIGHT_PARTS, depth - 1)
                w = unfold(w_maps["neuron"](x) + w_maps["summary"](s)[:, None], self.widths[-1]).transpose(1, 2)
                b = unfold(b_maps["summary"](s), self.widths[-1])
            else:
                rows = read(ROW_PARTS, i)
                w = (w_maps["entry"](ws[i - 1]) + w_maps["summary"](s)[:, None, None]
                     + w_maps["column"](read(COLUMN_PARTS, i - 1))[:, None] + w_maps["row"](rows)[:, :, None])
                b = b_maps["row"](rows) + b_maps["summary"](s)[:, None]
            out_ws.append(w)
            out_bs.append(b)
        return out_ws, out_bs


class NFNClassifier(nn.Module):
    """Random Fourier features of every raw weight and bias (no standardisation: the
    frequencies N(0, scale^2) act on the SIREN's own weights), HNP NF-layers each followed by a
    ReLU, the HNP pooling (every tensor averaged over its permuted axes) and an MLP with
    dropout after each hidden ReLU."""

    def __init__(self, layout: SirenLayout, num_classes: int, channels: tuple[int, ...] = (512, 512, 512),
                 fourier: int = 128, fourier_scale: float = 10.0, head_hidden: tuple[int, ...] = (1000, 1000),
                 dropout: float = 0.5):
        super().__init__()
        self.layout = layout
        self.register_buffer("frequencies", torch.randn(fourier) * fourier_scale)
        dims = [2 * fourier, *channels]
        self.layers = nn.ModuleList(HNPLayer(layout.widths, a, b) for a, b in zip(dims, dims[1:]))
        pooled = 2 * (len(layout.widths) - 1) - 3 + layout.widths[0] + 2 * layout.widths[-1]
        self.head = mlp(pooled * dims[-1], head_hidden, num_classes, dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(...) -> (..., 2 * fourier): sines, then cosines, of 2 pi x times each frequency."""
        phase = 2 * math.pi * (x.unsqueeze(-1) * self.frequencies)
        return torch.cat([phase.sin(), phase.cos()], dim=-1)

    def pool(self, ws: list[torch.Tensor], bs: list[torch.Tensor]) -> torch.Tensor:
        """(B, C * pooled), channel-major: the first weight averaged over its rows, the last
        over its columns, hidden weights and biases over everything; the last bias whole."""
        pieces = []
        for i, (w, b) in enumerate(zip(ws, bs), start=1):
            pieces.append(w.mean(1) if i == 1 else w.mean(2) if i == len(ws) else w.mean((1, 2))[:, None])
            pieces.append(b if i == len(ws) else b.mean(1, keepdim=True))
        return torch.cat(pieces, dim=1).transpose(1, 2).flatten(1)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        layers = self.layout.unflatten(flat)
        ws, bs = [self.encode(w) for w, _ in layers], [self.encode(b) for _, b in layers]
        for layer in self.layers:
            ws, bs = layer(ws, bs)
            ws, bs = [torch.relu(w) for w in ws], [torch.relu(b) for b in bs]
        return self.head(self.pool(ws, bs))
