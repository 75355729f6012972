"""A one-cycle AdamW over parameter groups with their own peak rates, each group's gradient
clipped on its own: how MWT's authors train theta, the inner rates and the classifier in
one optimiser. wsbench.train.optim.Optimisation has one rate and one global clipping norm,
and steps on the cross-entropy of logits; MWT's outer loss also holds the reconstruction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn


@dataclass(frozen=True)
class OneCycleOptimisation:
    """AdamW (betas, eps at torch's defaults) under torch's OneCycleLR: the rate rises from
    peak / 25 to the peak over the first `pct_start` of the steps, then anneals (cosine) to
    peak / 25e4, while Adam's beta1 moves the other way, 0.95 -> 0.85 -> 0.95."""

    weight_decay: float = 0.0
    pct_start: float = 0.05
    clip_norm: float = 0.0  # each group's gradient norm is clipped to this (0: no clipping)

    def build(self, groups: Sequence[tuple[Iterable[nn.Parameter], float]], total_steps: int) -> "OneCycleOptimiser":
        """`groups`: (parameters, peak learning rate) pairs; the schedule spans `total_steps` steps."""
        return OneCycleOptimiser(self, [(list(params), lr) for params, lr in groups], total_steps)


class OneCycleOptimiser:
    """`step(loss)`: one update from the gradient of `loss`; the learning rate moves once per step."""

    def __init__(self, spec: OneCycleOptimisation, groups: list[tuple[list[nn.Parameter], float]], total_steps: int):
        self.spec = spec
        self.opt = torch.optim.AdamW([{"params": params, "lr": lr} for params, lr in groups],
                                     weight_decay=spec.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.opt, max_lr=[lr for _, lr in groups], total_steps=total_steps, pct_start=spec.pct_start)

    def step(self, loss: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.spec.clip_norm > 0:
            for group in self.opt.param_groups:
                nn.utils.clip_grad_norm_(group["params"], self.spec.clip_norm)
        self.opt.step()
        self.scheduler.step()
        return loss.detach()
