"""ScaleGMN-B (Kalogeropoulos et al., NeurIPS 2024) as the authors' published configuration
for INR classification builds it (configs/fmnist_cls/scalegmn_bidir.yml: sign symmetry,
bidirectional, 2 layers of width 128): a graph metanetwork over a SIREN's neurons (nodes,
biases as features) and weights (edges) that is invariant to permutations of hidden
neurons and to their sign flips (w, b and outgoing weights negated; sin is odd).

Under a flip s_j = ±1 of each hidden neuron (s = 1 at input and output nodes), hidden node
states flip with s_j and the states of edge i -> j with s_i s_j, because
  - a hidden node's state starts as its bias times a vector, times a per-layer embedding;
    input and output nodes, which never flip, add their embedding instead;
  - an edge's state is its weight times a vector and an embedding per edge type;
  - every map that meets a flipping state is sign equivariant, x -> W x * phi(rho(x) + rho(-x))
    (rho(x) + rho(-x) cannot see the sign), or an MLP of states whose flips cancel: the
    message to j is a map of (A e_ij) * (B h_i), which flips with s_i s_j s_i = s_j, so
    input and output nodes take plain MLPs of theirs;
  - an edge's update multiplies C e_ij by an MLP of sign-invariant views of both ends;
  - the readout sums a sign-invariant map of the hidden nodes and reads the input and
    output nodes' states as they are.
Messages travel both ways along every edge with maps of their own; as in the authors' code,
the backward messages always read the edges' initial states (only the forward ones see the
edge updates, which every layer but the last applies). A node's new state is a skip map of
its old one plus a map (per node kind) of [state, forward sum, backward sum].

Every INR of a zoo has the same graph, a stack of complete bipartite layers, so message
passing is written densely, layer by layer: edge states (B, out, in, d), node states
(B, n, d). Sums over a node's neighbours are the authors' aggregation ("add") without the
gathers and scatters of an edge list.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from wsbench.inr.siren import SirenLayout
from wsbench.models.dropout import FastDropout


def norm_mlp(in_dim: int, out_dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """The authors' MLP: one hidden layer, LayerNorm before SiLU, dropout after it (FastDropout:
    these masks were a third of a training step on a CPU)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.SiLU(), FastDropout(dropout),
                         nn.Linear(hidden, out_dim))


class EvenPart(nn.Module):
    """rho(x) + rho(-x): a sign-invariant view of x. The two share rho's first product."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.rho = norm_mlp(dim, dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, rest = self.rho[0], self.rho[1:]
        product = F.linear(x, first.weight)
        return rest(product + first.bias) + rest(first.bias - product)


class SignInvariant(nn.Module):
    """phi(rho(x) + rho(-x))."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.even = EvenPart(in_dim, hidden, dropout)
        self.phi = norm_mlp(in_dim, out_dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(self.even(x))


class SignEquivariant(nn.Module):
    """W x * phi(rho(x) + rho(-x)): the linear part flips with x, the gate does not."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=False)
        self.gate = SignInvariant(in_dim, out_dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.gate(x)


class Messages(nn.Module):
    """One direction's messages: a map of (edge map of e) * (node map of the sender's state),
    sign equivariant towards hidden nodes, an MLP towards the input or output nodes."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.edge_map = nn.Linear(hidden, hidden, bias=False)
        self.node_map = nn.Linear(hidden, hidden, bias=False)
        self.to_hidden = SignEquivariant(hidden, hidden, hidden, dropout)
        self.to_io = norm_mlp(hidden, hidden, hidden, dropout)

    def forward(self, edges: torch.Tensor, senders: torch.Tensor, forward: bool, to_hidden: bool) -> torch.Tensor:
        """edges (B, n_{k+1}, n_k, d); senders: the states of layer k (forward) or k + 1
        (backward); the sum of the messages at each receiver."""
        mapped = self.node_map(senders)
        z = self.edge_map(edges) * (mapped[:, None] if forward else mapped[:, :, None])
        return (self.to_hidden(z) if to_hidden else self.to_io(z)).sum(2 if forward else 1)


class EdgeUpdate(nn.Module):
    """e_ij -> (C e_ij) * phi([even(h_i), even(h_j)]), phi's first layer split by end so that
    it runs once per node instead of once per edge."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(hidden, hidden, bias=False)
        self.even = EvenPart(hidden, hidden, dropout)
        self.phi = norm_mlp(2 * hidden, hidden, hidden, dropout)

    def forward(self, edges: torch.Tensor, h_from: torch.Tensor, h_to: torch.Tensor) -> torch.Tensor:
        first, rest = self.phi[0], self.phi[1:]
        w_from, w_to = first.weight.chunk(2, dim=1)
        pre = F.linear(self.even(h_from), w_from)[:, None] + F.linear(self.even(h_to), w_to, first.bias)[:, :, None]
        return self.linear(edges) * rest(pre)


class BidirectionalLayer(nn.Module):
    """Forward and backward messages, an edge update (all layers but the last), and each node
    kind's update of [state, forward sum, backward sum] added to a skip map of the state."""

    def __init__(self, hidden: int, dropout: float, update_edges: bool):
        super().__init__()
        self.forward_messages = Messages(hidden, dropout)
        self.backward_messages = Messages(hidden, dropout)
        self.edge_update = EdgeUpdate(hidden, dropout) if update_edges else None
        self.update_hidden = SignEquivariant(3 * hidden, hidden, hidden, dropout)
        self.update_input = norm_mlp(3 * hidden, hidden, hidden, dropout)
        self.update_output = norm_mlp(3 * hidden, hidden, hidden, dropout)
        self.skip = nn.Linear(hidden, hidden, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: list[torch.Tensor], edges: list[torch.Tensor], initial_edges: list[torch.Tensor]):
        """h[k] (B, n_k, d): the neurons of layer k (0: inputs); edges[k] (B, n_{k+1}, n_k, d):
        the weights from layer k to k + 1, updated; initial_edges[k]: as embedded."""
        depth = len(edges)
        forward_sum = [torch.zeros_like(h[0])] + [self.forward_messages(e, h[k], True, k + 1 < depth)
                                                  for k, e in enumerate(edges)]
        backward_sum = [self.backward_messages(e, h[k + 1], False, k > 0)
                        for k, e in enumerate(initial_edges)] + [torch.zeros_like(h[-1])]
        if self.edge_update is not None:
            edges = [self.edge_update(e, h[k], h[k + 1]) for k, e in enumerate(edges)]
        new = []
        for k, (x, fw, bw) in enumerate(zip(h, forward_sum, backward_sum)):
            update = self.update_input if k == 0 else self.update_output if k == depth else self.update_hidden
            new.append(self.dropout(self.skip(x) + update(torch.cat([x, fw, bw], dim=-1))))
        return new, edges


class ScaleGMNB(nn.Module):
    """Embeddings of biases and weights, bidirectional sign-equivariant layers, and the
    readout: an MLP of [sum over hidden nodes of phi(even(h)), input and output states]."""

    def __init__(self, layout: SirenLayout, num_classes: int, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        widths = layout.widths
        if len(widths) < 3:
            raise ValueError(f"ScaleGMN-B needs a hidden layer; widths {widths} have none")
        self.layout = layout
        self.bias_embedding = nn.Linear(1, hidden, bias=False)
        self.weight_embedding = nn.Linear(1, hidden, bias=False)
        # node types: each input, each hidden layer, each output; edge types: each input's
        # outgoing weights, each weight matrix between hidden layers, each output's incoming ones
        n_in, n_out, depth = widths[0], widths[-1], len(widths) - 1
        self.node_position = nn.Parameter(torch.randn(n_in + depth - 1 + n_out, hidden))
        self.edge_position = nn.Parameter(torch.randn(n_in + depth - 2 + n_out, hidden))
        self.layers = nn.ModuleList(BidirectionalLayer(hidden, dropout, update_edges=i < layers - 1)
                                    for i in range(layers))
        self.readout_hidden = SignInvariant(hidden, hidden, hidden, dropout)
        self.head = norm_mlp(hidden * (1 + n_in + n_out), num_classes, hidden, dropout)

    def embed(self, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Node states per layer and edge states per weight matrix, before message passing."""
        widths, params = self.layout.widths, self.layout.unflatten(flat)
        n_in, depth = widths[0], len(widths) - 1
        a, c = self.bias_embedding.weight[:, 0], self.weight_embedding.weight[:, 0]
        node_pos, edge_pos = self.node_position, self.edge_position
        h = [(a + node_pos[:n_in]).expand(flat.shape[0], -1, -1)]  # an input node's feature is 1
        edges = []
        for k, (w, b) in enumerate(params):
            x = b[..., None] * a
            h.append(x * node_pos[n_in + k] if k + 1 < depth else x + node_pos[n_in + k:])
            if k == 0:
                position = edge_pos[:n_in][None]
            elif k + 1 < depth:
                position = edge_pos[n_in + k - 1]
            else:
                position = edge_pos[n_in + k - 1:, None]
            edges.append(w[..., None] * c * position)
        return h, edges

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        h, edges = self.embed(flat)
        initial_edges = edges
        for layer in self.layers:
            h, edges = layer(h, edges, initial_edges)
        hidden_sum = self.readout_hidden(torch.cat(h[1:-1], 1)).sum(1)
        io = torch.cat([h[0], h[-1]], 1).flatten(1)
        return self.head(torch.cat([hidden_sum, io], dim=-1))
