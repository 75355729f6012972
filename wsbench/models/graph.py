"""Neural graphs (Kofinas et al., ICLR 2024): a SIREN as a graph whose nodes are its neurons
(input coordinates, hidden neurons, outputs; biases as node features) and whose edges are
its weights (edge features, updated every layer), with PNA message passing from
torch-geometric (`PNAConv`: mean, min, max and std aggregators with degree scalers).

Permuting hidden neurons only relabels nodes, so message passing followed by averages over
nodes is invariant to it. A node's type is its hidden layer, or its index for input and
output nodes (their order is meaningful): nodes get a positional embedding per type, and
the readout averages the states of each type's nodes, so that the few input and output
nodes are not drowned among the hidden ones.
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import PNAConv
from torch_geometric.utils import degree

from wsbench.inr.siren import SirenLayout
from wsbench.models.mlp import mlp


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


class GraphBatch(nn.Module):
    """The fixed graph of a layout, both directions of every weight edge, batched for B INRs."""

    def __init__(self, layout: SirenLayout):
        super().__init__()
        edge_index, weight_pos, bias_pos, node_type = siren_graph(layout)
        num_edges = edge_index.shape[1]
        self.register_buffer("edge_index", torch.cat([edge_index, edge_index.flip(0)], dim=1))
        self.register_buffer("direction", torch.arange(2).repeat_interleave(num_edges))
        self.register_buffer("weight_pos", weight_pos.repeat(2))
        self.register_buffer("bias_pos", bias_pos)
        self.register_buffer("node_type", node_type)
        types = nn.functional.one_hot(node_type).T.float()
        self.register_buffer("readout", types / types.sum(1, keepdim=True))
        self.num_types = len(types)

    def batched_edges(self, batch: int) -> torch.Tensor:
        """One graph per sample: the fixed edge list, offset by the sample's first node."""
        offsets = torch.arange(batch, device=self.edge_index.device) * self.node_type.numel()
        return (self.edge_index[:, None, :] + offsets[None, :, None]).flatten(1)

    def features(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Biases (B, N) (0 for input nodes) and edge weights (B, 2E)."""
        return nn.functional.pad(flat, (0, 1))[:, self.bias_pos], flat[:, self.weight_pos]

    def pool(self, h: torch.Tensor, batch: int) -> torch.Tensor:
        """The mean state of each node type, concatenated: (B, types * d)."""
        return (self.readout @ h.view(batch, self.node_type.numel(), -1)).flatten(1)


class NeuralGraph(nn.Module):
    """PNA layers with edge features that are updated after every layer (an MLP of the edge
    and its two end nodes), residual node states, the mean state of each node type, MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 3,
                 head_hidden: tuple[int, ...] = (128,)):
        super().__init__()
        self.graph = GraphBatch(layout)
        in_degree = degree(self.graph.edge_index[1], self.graph.node_type.numel(), dtype=torch.long)
        histogram = torch.bincount(in_degree)
        self.node_in = nn.Linear(1, hidden)
        self.node_emb = nn.Embedding(self.graph.num_types, hidden)
        self.edge_in = nn.Linear(1, hidden)
        self.edge_emb = nn.Embedding(2, hidden)
        self.convs = nn.ModuleList(
            PNAConv(hidden, hidden, aggregators=["mean", "min", "max", "std"],
                    scalers=["identity", "amplification", "attenuation"], deg=histogram, edge_dim=hidden,
                    towers=1, pre_layers=1, post_layers=1, divide_input=False) for _ in range(layers))
        self.edge_updates = nn.ModuleList(mlp(3 * hidden, (hidden,), hidden) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.head = mlp(self.graph.num_types * hidden, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        batch = flat.shape[0]
        edge_index = self.graph.batched_edges(batch)
        bias, w = self.graph.features(flat)
        h = (self.node_in(bias.unsqueeze(-1)) + self.node_emb(self.graph.node_type)).flatten(0, 1)
        e = (self.edge_in(w.unsqueeze(-1)) + self.edge_emb(self.graph.direction)).flatten(0, 1)
        src, dst = edge_index
        for conv, update, norm in zip(self.convs, self.edge_updates, self.norms):
            h = h + torch.relu(norm(conv(h, edge_index, e)))
            e = e + update(torch.cat([h[src], h[dst], e], dim=-1))
        return self.head(self.graph.pool(h, batch))
