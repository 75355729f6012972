"""MWT's network (Gielisse & van Gemert 2025): a meta-learned SIREN start and per-step rates
that fit each sample in k SGD steps, and a Transformer over the fitted network's neurons."""
from __future__ import annotations

import torch
from torch import nn

from wsbench.inr.fields import Field
from wsbench.inr.meta import inner_sgd
from wsbench.inr.siren import SirenLayout, siren_forward


class NeuronTransformer(nn.Module):
    """Tokens: one per output neuron of each layer, its incoming weights and bias,
    embedded by a linear map per layer; mean-pooled Transformer encoder; linear head."""

    def __init__(self, layout: SirenLayout, num_classes: int, lam: float, d_model: int, layers: int, heads: int):
        super().__init__()
        self.layout, self.lam = layout, lam
        self.beta = nn.Parameter(torch.zeros(layout.num_params))
        self.embed = nn.ModuleList(nn.Linear(i + 1, d_model) for _, i in layout.layer_shapes)
        block = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, num_classes))

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        """delta = phi - theta (B, P) -> logits."""
        layers = self.layout.unflatten(self.lam * (delta + self.beta))
        tokens = torch.cat([embed(torch.cat([w, b.unsqueeze(-1)], -1))
                            for embed, (w, b) in zip(self.embed, layers)], 1)
        return self.out(self.encoder(tokens).mean(1))


class MWTNetwork(nn.Module):
    def __init__(self, layout: SirenLayout, num_classes: int, p: dict):
        super().__init__()
        self.layout = layout
        self.theta = nn.Parameter(layout.init(1)[0])
        self.rates = nn.Parameter(torch.full((p["inner_steps"], layout.num_params), p["inner_lr"]))
        self.classifier = NeuronTransformer(layout, num_classes, p["lam"], p["d_model"], p["layers"], p["heads"])

    def loss(self, phi: torch.Tensor, field: Field, queries: torch.Tensor | None) -> torch.Tensor:
        coords, target = field.at(queries)
        return field.per_sample_loss(siren_forward(self.layout, phi, coords), target)

    def fit(self, field: Field, fraction: float, gen: torch.Generator, create_graph: bool) -> torch.Tensor:
        """phi after the k inner steps from theta, a fresh query subset per step."""
        queries = [field.sample_queries(fraction, gen) for _ in range(len(self.rates))]
        start, rates = self.theta.expand(len(field), -1), self.rates
        if not torch.is_grad_enabled():  # inference: nothing to meta-learn
            start, rates = start.detach(), rates.detach()
        return inner_sgd(start, rates, lambda phi, j: self.loss(phi, field, queries[j]), create_graph)

    def forward(self, field: Field, fraction: float, gen: torch.Generator, w_cls: float,
                create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample reconstruction loss after fitting and the logits of the fitted INRs."""
        phi = self.fit(field, fraction, gen, create_graph)
        queries = field.sample_queries(fraction, gen)
        delta = phi - self.theta
        delta = delta.detach() + w_cls * (delta - delta.detach())  # value delta; gradient to the fitting x w_cls
        return self.loss(phi, field, queries), self.classifier(delta)
