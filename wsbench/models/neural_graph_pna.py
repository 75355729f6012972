"""Neural graphs with PNA as Kofinas et al. (ICLR 2024) configured them for INR classification
(their experiments/inr_classification, model "pna"): a SIREN as a graph of its neurons, each
weight two directed edges with a state of their own, PNA layers whose messages are modulated
by the edge (a scale and a shift), edge states rewritten between layers, and a readout of the
output neurons only.

What their code does and this model therefore does too, though it is not the textbook PNA:
- every node and edge input goes through random Fourier features (fixed Gaussian frequencies,
  scale 3) before its linear embedding; a weight enters its forward edge as [w, 0, w] and its
  backward edge as [0, w, w], so the two directions start apart and stay apart;
- the layer norm between PNA layers is torch-geometric's LayerNorm in its "graph" mode, called
  without a batch vector: one mean and one standard deviation over every node and channel of
  the whole batch of INRs, so an INR's logits depend on the INRs it is batched with;
- the degree scaler's average log-degree counts each neuron's incoming weights only (0 for the
  input neurons), though messages run both ways and a hidden neuron has both fan-in and fan-out.

Every INR of a zoo has the same graph, a stack of complete bipartite layers, so the layers are
written densely, per weight matrix: node states (B, n_k, d) per layer k, edge states
(B, n_{k+1}, n_k, d) per matrix and direction, at [j, i] for neuron j of layer k+1 and neuron i
of layer k. Linear maps of a message's end nodes are computed once per node and broadcast.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from wsbench.inr.siren import SirenLayout
from wsbench.models.dropout import FastDropout
from wsbench.models.mlp import mlp


def broadcast_layer_statistics(layout: SirenLayout, weight_mean, weight_std, bias_mean, bias_std) -> torch.Tensor:
    """One mean and std per weight matrix and per bias vector, spread over their parameters as
    (2, P) rows in float64, so that the zoo methods' per-parameter normaliser applies them unchanged."""
    rows = []
    for values_w, values_b in ((weight_mean, bias_mean), (weight_std, bias_std)):
        parts = []
        for (o, i), w, b in zip(layout.layer_shapes, values_w, values_b, strict=True):
            parts += [torch.full((o * i,), float(w), dtype=torch.float64),
                      torch.full((o,), float(b), dtype=torch.float64)]
        rows.append(torch.cat(parts))
    return torch.stack(rows)


def layer_statistics(layout: SirenLayout, flat: torch.Tensor) -> torch.Tensor:
    """The training zoo's statistics as Kofinas et al. compute theirs: the mean and the (unbiased)
    std of all the entries of each weight matrix and of each bias vector, over all INRs; (2, P)
    in the weights' dtype."""
    layers = layout.unflatten(flat.double())
    stats = broadcast_layer_statistics(layout, [w.mean() for w, _ in layers], [w.std() for w, _ in layers],
                                       [b.mean() for _, b in layers], [b.std() for _, b in layers])
    return stats.to(flat.dtype)


def neuron_types(widths: tuple[int, ...]) -> torch.Tensor:
    """The positional embedding of each neuron: its own for every input and output neuron (their
    order means something), one per hidden layer (its neurons are interchangeable)."""
    hidden = [torch.full((w,), widths[0] + k) for k, w in enumerate(widths[1:-1])]
    return torch.cat([torch.arange(widths[0]), *hidden, widths[0] + len(hidden) + torch.arange(widths[-1])])


class FourierFeatures(nn.Module):
    """[cos 2 pi v B^T, sin 2 pi v B^T] with fixed frequencies B ~ N(0, scale^2) (a buffer: not
    trained, not decayed), which lets the first linear map resolve small differences of a weight."""

    def __init__(self, in_dim: int, features: int, scale: float):
        super().__init__()
        self.register_buffer("frequencies", torch.randn(features, in_dim) * scale)

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cosines and the sines, kept apart: the linear map that follows takes them by halves
        of its weight instead of from a concatenation (of each edge's 256 features)."""
        phase = 2 * math.pi * v @ self.frequencies.T
        return torch.cos(phase), torch.sin(phase)


def linear_of_halves(weight: torch.Tensor, bias: torch.Tensor, halves: tuple[torch.Tensor, torch.Tensor]):
    """F.linear(cat[first, second], weight, bias) without the concatenation."""
    first, second = halves
    w_first, w_second = weight.split(first.shape[-1], dim=1)
    return F.linear(first, w_first, bias) + F.linear(second, w_second)


class BatchLayerNorm(nn.Module):
    """Layer norm over the whole batch at once (every node of every INR, every channel), the
    standard deviation biased and eps added to it, then a per-channel affine map: what
    torch-geometric's LayerNorm(mode="graph") computes when it is given no batch vector."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: list[torch.Tensor]) -> list[torch.Tensor]:
        everything = torch.cat([x.flatten() for x in h])
        mean, std = everything.mean(), everything.std(unbiased=False)
        return [(x - mean) / (std + self.eps) * self.weight + self.bias for x in h]


class ModulatedPNA(nn.Module):
    """One PNA layer with aggregators mean, min, max, std and scalers identity, amplification;
    a message is scale * pre(cat[target, source]) + shift, the scale and shift read off the
    edge's state. Parameters named as in torch-geometric's PNAConv (one tower, one pre- and one
    post-layer)."""

    def __init__(self, hidden: int, layout: SirenLayout):
        super().__init__()
        self.edge_encoder = nn.Linear(hidden, 2 * hidden)
        self.pre = nn.Linear(2 * hidden, hidden)
        self.post = nn.Linear(9 * hidden, hidden)  # cat[node, 4 aggregates, 4 amplified aggregates]
        self.lin = nn.Linear(hidden, hidden)
        widths = layout.widths
        self.degree = [(widths[k - 1] if k else 0) + (widths[k + 1] if k + 1 < len(widths) else 0)
                       for k in range(len(widths))]
        # Kofinas et al.'s degree histogram: layer k's neurons have in-degree n_{k-1}, inputs 0.
        fan_in = [0, *widths[:-1]]
        self.avg_log_degree = sum(n * math.log(f + 1) for n, f in zip(widths, fan_in)) / sum(widths)

    def messages(self, edges: torch.Tensor, targets: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
        scale, shift = self.edge_encoder(edges).chunk(2, dim=-1)
        return scale * (targets + sources) + shift

    def forward(self, h: list[torch.Tensor], forward_edges: list[torch.Tensor],
                backward_edges: list[torch.Tensor]) -> list[torch.Tensor]:
        """Every neuron's new state: messages along both directions of every weight."""
        d = h[0].shape[-1]
        target_map, source_map = self.pre.weight.split(d, dim=1)
        as_target = [F.linear(x, target_map, self.pre.bias) for x in h]
        as_source = [F.linear(x, source_map) for x in h]
        incoming: list[list[tuple[torch.Tensor, int]]] = [[] for _ in h]  # per layer: (messages, sender dim)
        for k, (along, against) in enumerate(zip(forward_edges, backward_edges)):
            incoming[k + 1].append((self.messages(along, as_target[k + 1][:, :, None], as_source[k][:, None]), 2))
            incoming[k].append((self.messages(against, as_target[k][:, None], as_source[k + 1][:, :, None]), 1))
        return [self.update(x, messages, degree) for x, messages, degree in zip(h, incoming, self.degree)]

    def outputs(self, before: torch.Tensor, outputs: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """The output neurons' new states alone, from the last hidden layer `before` (B, i, d)
        along the edges into them (B, o, i, d): all that is read of the network's last layer."""
        d = outputs.shape[-1]
        target_map, source_map = self.pre.weight.split(d, dim=1)
        targets = F.linear(outputs, target_map, self.pre.bias)[:, :, None]
        messages = self.messages(edges, targets, F.linear(before, source_map)[:, None])
        return self.update(outputs, [(messages, 2)], self.degree[-1])

    def update(self, x: torch.Tensor, messages: list[tuple[torch.Tensor, int]], degree: int) -> torch.Tensor:
        mean = sum(m.sum(dim) for m, dim in messages) / degree
        var = sum((m * m).sum(dim) for m, dim in messages) / degree - mean * mean
        std = var.clamp(min=1e-5).sqrt()
        std = std.masked_fill(std <= math.sqrt(1e-5), 0.0)  # torch-geometric's std: no gradient at 0
        low = torch.stack([m.amin(dim) for m, dim in messages]).amin(0)
        high = torch.stack([m.amax(dim) for m, dim in messages]).amax(0)
        aggregate = torch.cat([mean, low, high, std], dim=-1)
        amplified = aggregate * (math.log(degree + 1) / self.avg_log_degree)
        return self.lin(self.post(torch.cat([x, aggregate, amplified], dim=-1)))


class EdgeUpdate(nn.Module):
    """An edge's new state from its old one and its source and target neurons' states:
    lin1(silu(lin_e(edge) + lin_s(source) + lin_t(target))), replacing the old state."""

    def __init__(self, hidden: int):
        super().__init__()
        self.lin_e = nn.Linear(hidden, hidden)
        self.lin_s = nn.Linear(hidden, hidden)
        self.lin_t = nn.Linear(hidden, hidden)
        self.lin1 = nn.Linear(hidden, hidden)

    def forward(self, edges: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, rows_are_targets: bool):
        """edges (B, o, i, d) at [j, i]; rows (B, o, d) and cols (B, i, d) the neurons j and i."""
        targets, sources = (rows[:, :, None], cols[:, None]) if rows_are_targets else (cols[:, None], rows[:, :, None])
        return self.lin1(F.silu(self.lin_e(edges) + self.lin_s(sources) + self.lin_t(targets)))


class NeuralGraphPNA(nn.Module):
    """Normalised flat SIREN weights (B, P) -> logits: the neural graph's embeddings, `layers`
    modulated PNA layers with layer norm, SiLU and dropout on the nodes and an edge update
    between them, then an MLP of the output neurons' states."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 4,
                 dropout: float = 0.0, fourier_features: int = 128, fourier_scale: float = 3.0):
        super().__init__()
        self.layout = layout
        self.register_buffer("types", neuron_types(layout.widths), persistent=False)
        self.pos_embed = nn.Parameter(torch.randn(int(self.types.max()) + 1, hidden))
        self.weight_features = FourierFeatures(3, fourier_features, fourier_scale)
        self.weight_in = nn.Linear(2 * fourier_features, hidden)
        self.bias_features = FourierFeatures(1, fourier_features, fourier_scale)
        self.bias_in = nn.Linear(2 * fourier_features, hidden)
        self.node_in = nn.Linear(hidden, hidden)
        self.edge_in = nn.Linear(hidden, hidden)
        self.convs = nn.ModuleList(ModulatedPNA(hidden, layout) for _ in range(layers))
        self.norms = nn.ModuleList(BatchLayerNorm(hidden) for _ in range(layers - 1))
        self.edge_updates = nn.ModuleList(EdgeUpdate(hidden) for _ in range(layers - 1))
        self.dropout = FastDropout(dropout)
        self.head = mlp(layout.widths[-1] * hidden, (hidden, hidden), num_classes)

    def embed_edges(self, direction_input: torch.Tensor) -> torch.Tensor:
        """edge_in(weight_in(features)) as one map: the two linear maps folded (one product per edge)."""
        weight = self.edge_in.weight @ self.weight_in.weight
        bias = self.edge_in.weight @ self.weight_in.bias + self.edge_in.bias
        return linear_of_halves(weight, bias, self.weight_features(direction_input))

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        layers = self.layout.unflatten(flat)
        biases = torch.cat([flat.new_zeros(len(flat), self.layout.widths[0]), *(b for _, b in layers)], 1)
        features = self.bias_features(biases[..., None])
        nodes = self.node_in(linear_of_halves(self.bias_in.weight, self.bias_in.bias, features))
        h = list((nodes + self.pos_embed[self.types]).split(self.layout.widths, 1))
        forward = [self.embed_edges(torch.stack([w, torch.zeros_like(w), w], -1)) for w, _ in layers]
        backward = [self.embed_edges(torch.stack([torch.zeros_like(w), w, w], -1)) for w, _ in layers]
        for k, (conv, norm, update) in enumerate(zip(self.convs, self.norms, self.edge_updates)):
            h = [self.dropout(F.silu(x)) for x in norm(conv(h, forward, backward))]
            if k + 1 < len(self.edge_updates):
                forward = [update(e, h[j + 1], h[j], rows_are_targets=True) for j, e in enumerate(forward)]
                backward = [update(e, h[j + 1], h[j], rows_are_targets=False) for j, e in enumerate(backward)]
            else:  # the last layer is read at the output neurons alone: only the edges into them matter
                forward = [update(forward[-1], h[-1], h[-2], rows_are_targets=True)]
        return self.head(self.convs[-1].outputs(h[-2], h[-1], forward[-1]).flatten(1))
