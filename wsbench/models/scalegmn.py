"""ScaleGMN (Kalogeropoulos et al., NeurIPS 2024) for sine networks: a graph metanetwork
over the neuron graph of a SIREN (neurons as nodes, weights as edges) that is invariant to
permutations of hidden neurons *and* to their sign flips. sin is odd, so negating a hidden
neuron's incoming weights, bias and outgoing weights leaves the SIREN's function unchanged.

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

Every INR of a zoo has the same graph, a stack of complete bipartite layers, so message
passing is written densely, layer by layer: edge states (B, out, in, d), node states
(B, n, d). This is the message passing of an edge list (sum over a node's neighbours,
divided by its degree) without gathers and scatters, which took most of the time on a CPU.
"""
from __future__ import annotations

import torch
from torch import nn

from wsbench.inr.siren import SirenLayout
from wsbench.models.graph import NeuronGraph, layer_degrees
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

    def forward(self, h: list[torch.Tensor], e: list[torch.Tensor], degree: list[int]):
        """h[k] (B, n_k, d): the neurons of layer k (0: inputs); e[k] (B, n_{k+1}, n_k, d): the
        weights from layer k to k+1; degree[k]: each layer-k neuron's number of neighbours."""
        forward_map, backward_map = self.edge_maps
        sizes, h_all = [x.shape[1] for x in h], torch.cat(h, 1)
        g_forward, g_backward = (node_map(h_all).split(sizes, 1) for node_map in self.node_maps)
        incoming = [torch.zeros_like(x) for x in h]
        for k, edges in enumerate(e):
            incoming[k + 1] = incoming[k + 1] + (forward_map(edges) * g_forward[k][:, None]).sum(2)
            incoming[k] = incoming[k] + (backward_map(edges) * g_backward[k + 1][:, :, None]).sum(1)
        mean_all = torch.cat([x / n for x, n in zip(incoming, degree)], 1)
        h = (h_all + self.update(torch.cat([h_all, mean_all], dim=-1))).split(sizes, 1)  # mean keeps the sign law
        e = [edges + self.edge_update(h[k + 1][:, :, None] * h[k][:, None]) for k, edges in enumerate(e)]
        return list(h), e


class ScaleGMN(nn.Module):
    """Sign-equivariant embeddings, layers of SignLayer, an invariant per-type mean readout, MLP."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 32, layers: int = 3,
                 head_hidden: tuple[int, ...] = (128,)):
        super().__init__()
        self.layout = layout
        self.graph = NeuronGraph(layout)
        widths = layout.widths
        self.register_buffer("fixed", (self.graph.node_type < widths[0])
                             | (self.graph.node_type >= self.graph.num_types - widths[-1]))  # never flip
        self.degree = layer_degrees(layout)
        self.node_scale = nn.Embedding(self.graph.num_types, hidden)  # multiplies the bias: flips with it
        self.node_shift = nn.Embedding(self.graph.num_types, hidden)  # added at input and output nodes only
        self.edge_scale = nn.Embedding(len(layout.layer_shapes), hidden)
        self.layers = nn.ModuleList(SignLayer(hidden) for _ in range(layers))
        self.head = mlp(self.graph.num_types * hidden, head_hidden, num_classes)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        types = self.graph.node_type
        h = self.graph.biases(flat)[..., None] * self.node_scale(types) + self.fixed[:, None] * self.node_shift(types)
        h = self.graph.by_layer(h)
        e = [w[..., None] * self.edge_scale.weight[k] for k, (w, _) in enumerate(self.layout.unflatten(flat))]
        for layer in self.layers:
            h, e = layer(h, e, self.degree)
        h = torch.cat(h, 1)
        return self.head(self.graph.pool(torch.where(self.fixed[None, :, None], h, h.abs())))
