"""Neural graphs (Kofinas et al., ICLR 2024): a SIREN as a graph whose nodes are its neurons
(input coordinates, hidden neurons, outputs; biases as node features) and whose edges are
its weights (edge features, updated every layer), with PNA message passing (mean, min, max
and std aggregators with degree scalers) along both directions of every edge.

Permuting hidden neurons only relabels nodes, so message passing followed by averages over
nodes is invariant to it. A node's type is its hidden layer, or its index for input and
output nodes (their order is meaningful): nodes get a positional embedding per type, and
the readout averages the states of each type's nodes, so that the few input and output
nodes are not drowned among the hidden ones.

Every INR of a zoo has the same graph, a stack of complete bipartite layers, so message
passing is written densely, per weight matrix: edge states (B, out, in, d), node states
(B, n, d) per layer. `DensePNA` computes what torch-geometric's `PNAConv` computes on the
edge list of `siren_graph` (tests/test_weightspace.py checks the two agree), without the
gathers and scatters that took most of PNAConv's time on a CPU.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from wsbench.inr.siren import SirenLayout
from wsbench.models.mlp import mlp


def siren_graph(layout: SirenLayout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One SIREN's graph: edge_index (2, E) from layer k-1 to layer k, in the order of the
    flat weights (row-major per matrix), the flat position of each edge's weight (E,), of
    each node's bias (N,; num_params for input nodes, which have none) and each node's type (N,)."""
    widths = layout.widths
    starts = [sum(widths[:k]) for k in range(len(widths) + 1)]
    src, dst, weight_pos = [], [], []
    bias_pos = torch.full((starts[-1],), layout.num_params)
    pos = 0
    for k, (o, i) in enumerate(layout.layer_shapes):
        rows = torch.arange(starts[k + 1], starts[k + 2])
        cols = torch.arange(starts[k], starts[k + 1])
        dst.append(rows.repeat_interleave(i))
        src.append(cols.repeat(o))
        weight_pos.append(pos + torch.arange(o * i))
        bias_pos[rows] = pos + o * i + torch.arange(o)
        pos += o * i + o
    hidden = [torch.full((w,), widths[0] + k) for k, w in enumerate(widths[1:-1])]
    node_type = torch.cat([torch.arange(widths[0]), *hidden,
                           widths[0] + len(hidden) + torch.arange(widths[-1])])
    edge_index = torch.stack([torch.cat(src), torch.cat(dst)])
    return edge_index, torch.cat(weight_pos), bias_pos, node_type


def layer_degrees(layout: SirenLayout) -> list[int]:
    """The number of neighbours of each layer's neurons, both directions counted."""
    widths = layout.widths
    return [(widths[k - 1] if k > 0 else 0) + (widths[k + 1] if k + 1 < len(widths) else 0)
            for k in range(len(widths))]


class NeuronGraph(nn.Module):
    """What the dense layers need of a layout's graph: each neuron's bias and type, per layer,
    and the readout that averages each type's states."""

    def __init__(self, layout: SirenLayout):
        super().__init__()
        _, _, bias_pos, node_type = siren_graph(layout)
        self.widths = list(layout.widths)
        self.register_buffer("bias_pos", bias_pos)
        self.register_buffer("node_type", node_type)
        types = nn.functional.one_hot(node_type).T.float()
        self.register_buffer("readout", types / types.sum(1, keepdim=True))
        self.num_types = len(types)

    def biases(self, flat: torch.Tensor) -> torch.Tensor:
        """Every neuron's bias (B, N), 0 for input nodes."""
        return nn.functional.pad(flat, (0, 1))[:, self.bias_pos]

    def by_layer(self, h: torch.Tensor) -> list[torch.Tensor]:
        """(B, N, d) -> [(B, n_k, d) per layer k]."""
        return list(h.split(self.widths, 1))

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """The mean state of each node type, concatenated: (B, N, d) -> (B, types * d)."""
        return (self.readout @ h).flatten(1)


def on_edges(weight: torch.Tensor, bias: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
             edges: torch.Tensor, rows_first: bool) -> torch.Tensor:
    """A linear map of cat[x_a, x_b, e] on every edge of a bipartite layer, computed per node
    and broadcast: rows (B, o, d) and cols (B, i, d) are the layer's two node sets, edges
    (B, o, i, d); x_a is the row node if rows_first, else the column node. The node terms are
    added in place and the bias goes with the rows, so the (B, o, i, d) result is written by
    one product and updated twice, with no temporaries of its size (15% of a training step)."""
    first, second, edge_part = weight.split(rows.shape[-1], dim=1)
    row_map, col_map = (first, second) if rows_first else (second, first)
    out = F.linear(edges, edge_part)
    out += F.linear(rows, row_map, bias)[:, :, None]
    out += F.linear(cols, col_map)[:, None]
    return out


class DensePNA(nn.Module):
    """PNAConv(d, d, aggregators mean/min/max/std, scalers identity/amplification/attenuation,
    edge_dim=d, towers=1, pre_layers=1, post_layers=1) on the neuron graph, messages along
    both directions of every edge, which carry the edge's one state; the parameters are
    named as PNAConv's."""

    def __init__(self, hidden: int, layout: SirenLayout):
        super().__init__()
        self.edge_encoder = nn.Linear(hidden, hidden)
        self.pre = nn.Linear(3 * hidden, hidden)  # cat[target, source, encoded edge] -> message
        self.post = nn.Linear(13 * hidden, hidden)  # cat[node, 4 aggregates x 3 scalers]
        self.lin = nn.Linear(hidden, hidden)
        self.degree = layer_degrees(layout)
        self.avg_log_degree = sum(n * math.log(d + 1) for n, d in zip(layout.widths, self.degree)) / sum(layout.widths)

    def forward(self, h: list[torch.Tensor], edges: list[torch.Tensor]) -> list[torch.Tensor]:
        """h[k] (B, n_k, d): the neurons of layer k; edges[k] (B, n_{k+1}, n_k, d): the states
        of the edges between layers k and k+1, at [j, i] for neuron j of layer k+1 and i of
        layer k. The edge's term of a message is the same in both directions: one product
        per edge serves the two messages."""
        d = h[0].shape[-1]
        target_map, source_map, edge_map = self.pre.weight.split(d, dim=1)
        # The edge encoder folded into the message map.
        edge_weight = edge_map @ self.edge_encoder.weight
        bias = self.pre.bias + edge_map @ self.edge_encoder.bias
        as_target = [F.linear(x, target_map, bias) for x in h]
        as_source = [F.linear(x, source_map) for x in h]
        incoming: list[list[torch.Tensor]] = [[] for _ in h]  # per layer: (messages, neighbour dim)
        for k, e in enumerate(edges):
            edge_term = F.linear(e, edge_weight)
            forward = edge_term + as_target[k + 1][:, :, None]  # from layer k to k+1
            forward += as_source[k][:, None]
            backward = edge_term + as_target[k][:, None]  # from layer k+1 to k
            backward += as_source[k + 1][:, :, None]
            incoming[k + 1].append((forward, 2))
            incoming[k].append((backward, 1))
        out = []
        for x, messages, degree in zip(h, incoming, self.degree):
            mean = sum(m.sum(dim) for m, dim in messages) / degree
            var = sum(m.pow(2).sum(dim) for m, dim in messages) / degree - mean * mean
            std = var.clamp(min=1e-5).sqrt()
            std = std.masked_fill(std <= math.sqrt(1e-5), 0.0)
            low = torch.stack([m.min(dim).values for m, dim in messages]).amin(0)  # .min(dim): its backward is a scatter
            high = torch.stack([m.max(dim).values for m, dim in messages]).amax(0)
            aggregate = torch.cat([mean, low, high, std], dim=-1)
            log_degree = math.log(degree + 1)
            out.append(torch.cat([x, aggregate, aggregate * (log_degree / self.avg_log_degree),
                                  aggregate * (self.avg_log_degree / log_degree)], dim=-1))
        sizes = [x.shape[1] for x in h]
        return list(self.lin(self.post(torch.cat(out, 1))).split(sizes, 1))


class NeuralGraph(nn.Module):
    """PNA layers with edge features that are updated after every layer (an MLP of the edge
    and its two end nodes), residual node states, the mean state of each node type, MLP.
    Each weight is one undirected edge with one state, which messages in both directions
    read (Kofinas et al. keep a state per direction: twice the edge work, the dominant
    cost on a CPU)."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 3,
                 head_hidden: tuple[int, ...] = (128,)):
        super().__init__()
        self.layout = layout
        self.graph = NeuronGraph(layout)
        self.node_in = nn.Linear(1, hidden)
        self.node_emb = nn.Embedding(self.graph.num_types, hidden)
        self.edge_in = nn.Linear(1, hidden)
        self.convs = nn.ModuleList(DensePNA(hidden, layout) for _ in range(layers))
        self.edge_updates = nn.ModuleList(mlp(3 * hidden, (hidden,), hidden) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.head = mlp(self.graph.num_types * hidden, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        h = self.node_in(self.graph.biases(flat)[..., None]) + self.node_emb(self.graph.node_type)
        h = self.graph.by_layer(h)
        edges = [self.edge_in(w[..., None]) for w, _ in self.layout.unflatten(flat)]
        for conv, update, norm in zip(self.convs, self.edge_updates, self.norms):
            h = [x + torch.relu(norm(y)) for x, y in zip(h, conv(h, edges))]
            first, act, second = update  # cat[layer k+1 node, layer k node, edge] -> hidden -> edge
            edges = [e + second(act(on_edges(first.weight, first.bias, h[k + 1], h[k], e, rows_first=True)))
                     for k, e in enumerate(edges)]
        return self.head(self.graph.pool(torch.cat(h, 1)))
