"""Neural graphs (Kofinas et al. 2024; Lim et al. 2024): a SIREN as a graph whose
nodes are its neurons (input coordinates, hidden neurons, outputs; biases as
node features) and whose edges are its weights (edge features).

Permuting hidden neurons only relabels nodes, so message passing followed by
averages over nodes is invariant to it. A node's type is its hidden layer, or
its index for input and output nodes (their order is meaningful): nodes get an
embedding per type, and the readout averages the states of each type's nodes,
so that the few input and output nodes are not drowned among the hidden ones.
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from wsbench.models.mlp import mlp
from wsbench.inr.siren import SirenLayout


def siren_graph(layout: SirenLayout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One SIREN's graph: edge_index (2, E) from layer k-1 to layer k, the flat
    position of each edge's weight (E,), of each node's bias (N,; num_params for
    input nodes, which have none) and each node's type (N,)."""
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


class EdgeConv(MessagePassing):
    """h_i += MLP([h_i, mean_j relu(A h_j + B h_i + e_ji)]), with the edge features
    e fixed across layers: the linear maps act on nodes, so the per-edge work (the
    bulk: a SIREN has far more weights than neurons) is elementwise."""

    def __init__(self, hidden: int):
        super().__init__(aggr="mean")
        self.src = nn.Linear(hidden, hidden)
        self.dst = nn.Linear(hidden, hidden, bias=False)
        self.post = mlp(2 * hidden, (hidden,), hidden)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        agg = self.propagate(edge_index, a=self.src(h), b=self.dst(h), e=e)
        return h + self.post(torch.cat([h, agg], dim=-1))

    def message(self, a_j: torch.Tensor, b_i: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return torch.relu(a_j + b_i + e)


class NeuralGraph(nn.Module):
    """Message passing over both directions of every weight edge, the mean state
    of each node type, MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 3,
                 head_hidden: tuple[int, ...] = (128,)):
        super().__init__()
        edge_index, weight_pos, bias_pos, node_type = siren_graph(layout)
        num_edges = edge_index.shape[1]
        # the reverse edges let information flow from outputs back to inputs
        self.register_buffer("edge_index", torch.cat([edge_index, edge_index.flip(0)], dim=1))
        self.register_buffer("direction", torch.arange(2).repeat_interleave(num_edges))
        self.register_buffer("weight_pos", weight_pos.repeat(2))
        self.register_buffer("bias_pos", bias_pos)
        self.register_buffer("node_type", node_type)
        types = nn.functional.one_hot(node_type).T.float()
        self.register_buffer("readout", types / types.sum(1, keepdim=True))
        self.node_in = nn.Linear(1, hidden)
        self.node_emb = nn.Embedding(len(types), hidden)
        self.edge_in = nn.Linear(1, hidden)
        self.edge_emb = nn.Embedding(2, hidden)
        self.convs = nn.ModuleList(EdgeConv(hidden) for _ in range(layers))
        self.head = mlp(len(types) * hidden, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        batch, nodes = flat.shape[0], self.node_type.numel()
        # one graph per sample: the fixed edge list, offset by the sample's first node
        offsets = torch.arange(batch, device=flat.device) * nodes
        edge_index = (self.edge_index[:, None, :] + offsets[None, :, None]).flatten(1)
        bias = nn.functional.pad(flat, (0, 1))[:, self.bias_pos]
        h = (self.node_in(bias.unsqueeze(-1)) + self.node_emb(self.node_type)).flatten(0, 1)
        w = flat[:, self.weight_pos]
        e = torch.relu(self.edge_in(w.unsqueeze(-1)) + self.edge_emb(self.direction)).flatten(0, 1)
        for conv in self.convs:
            h = conv(h, edge_index, e)
        return self.head((self.readout @ h.view(batch, nodes, -1)).flatten(1))
