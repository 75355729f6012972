"""ScaleGMN (Kalogeropoulos et al., NeurIPS 2024) for sine networks: a graph metanetwork
over the neuron graph of wsbench.models.graph that is invariant to permutations of hidden
neurons *and* to their sign flips. sin is odd, so negating a hidden neuron's incoming
weights, bias and outgoing weights leaves the SIREN's function unchanged.

Under a flip s_j = ±1 of each hidden neuron (s = 1 for inputs and outputs), a node's
bias scales by s_j and an edge's weight from i to j by s_i s_j. Every state here keeps
that law: node states h_j -> s_j h_j, edge states e_ij -> s_i s_j e_ij. This holds because
  - linear maps carry no bias, and the activations are odd (tanh), so f(s x) = s f(x);
  - a message to j is (A e_ij) * g(h_i), which scales by s_i s_j s_i = s_j;
  - an edge update adds B (h_i * h_j), which scales by s_i s_j;
  - positional information multiplies rather than adds (an added constant would not
    flip), except at input and output nodes, which never flip;
  - the readout takes |h| of hidden nodes (invariant) and h of input and output nodes.
Messages flow both ways along every edge, with maps of their own per direction, as in the
bidirectional ScaleGMN-B.
"""
from __future__ import annotations

import torch
from torch import nn

from wsbench.inr.siren import SirenLayout
from wsbench.models.graph import GraphBatch
from wsbench.models.mlp import mlp


def odd_mlp(in_dim: int, out_dim: int) -> nn.Sequential:
    """An odd function: bias-free linear maps with tanh between them, so f(-x) = -f(x)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.Tanh(), nn.Linear(out_dim, out_dim, bias=False))


class SignLayer(nn.Module):
    """One round of sign-equivariant message passing in both directions, then an edge update."""

    def __init__(self, hidden: int):
        super().__init__()
        self.edge_maps = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(2))
        self.node_maps = nn.ModuleList(odd_mlp(hidden, hidden) for _ in range(2))
        self.update = odd_mlp(2 * hidden, hidden)
        self.edge_update = nn.Linear(hidden, hidden, bias=False)

    def forward(self, h, e, src, dst, directions, num_nodes):
        """`directions`: the indices of the forward and of the reverse edges."""
        messages = torch.empty_like(e)
        for edge_map, node_map, on in zip(self.edge_maps, self.node_maps, directions):
            messages[on] = edge_map(e[on]) * node_map(h)[src[on]]  # the node map once per node, then gathered
        incoming = torch.zeros(num_nodes, h.shape[1], dtype=h.dtype, device=h.device)
        incoming.index_add_(0, dst, messages)
        count = torch.bincount(dst, minlength=num_nodes).clamp_min(1).to(h.dtype)[:, None]
        h = h + self.update(torch.cat([h, incoming / count], dim=-1))  # mean: sign-equivariant (max would not be)
        e = e + self.edge_update(h[src] * h[dst])
        return h, e


class ScaleGMN(nn.Module):
    """Sign-equivariant embeddings, layers of SignLayer, an invariant per-type mean readout, MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 3,
                 head_hidden: tuple[int, ...] = (128,)):
        super().__init__()
        self.graph = GraphBatch(layout)
        widths = layout.widths
        self.register_buffer("fixed", (self.graph.node_type < widths[0])
                             | (self.graph.node_type >= self.graph.num_types - widths[-1]))  # never flip
        layer_of_edge = torch.bucketize(self.graph.weight_pos, torch.tensor(
            [sum(o * i + o for o, i in layout.layer_shapes[:k + 1]) for k in range(len(layout.layer_shapes))]),
            right=True)
        self.register_buffer("edge_layer", layer_of_edge)
        self.node_scale = nn.Embedding(self.graph.num_types, hidden)  # multiplies the bias: flips with it
        self.node_shift = nn.Embedding(self.graph.num_types, hidden)  # added at input and output nodes only
        self.edge_scale = nn.Embedding(len(layout.layer_shapes), hidden)
        self.layers = nn.ModuleList(SignLayer(hidden) for _ in range(layers))
        self.head = mlp(self.graph.num_types * hidden, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        batch, nodes = flat.shape[0], self.graph.node_type.numel()
        edge_index = self.graph.batched_edges(batch)
        bias, w = self.graph.features(flat)
        types = self.graph.node_type
        h = bias[..., None] * self.node_scale(types) + self.fixed[:, None] * self.node_shift(types)
        e = w[..., None] * self.edge_scale(self.edge_layer)
        h, e = h.flatten(0, 1), e.flatten(0, 1)
        direction = self.graph.direction.repeat(batch)
        directions = [torch.nonzero(direction == d).squeeze(1) for d in range(2)]
        for layer in self.layers:
            h, e = layer(h, e, edge_index[0], edge_index[1], directions, batch * nodes)
        h = h.view(batch, nodes, -1)
        invariant = torch.where(self.fixed[None, :, None], h, h.abs())
        return self.head(self.graph.pool(invariant, batch))
