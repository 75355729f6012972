"""How a classifier's parameters move: the optimiser, its learning-rate schedule, gradient
clipping and the loss, written once, so that the training loop and the cross-checks against
the authors' code take exactly the same steps."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

OPTIMISERS = ("adamw", "adam")
# cosine: annealed towards 0 over the epochs, stepped once per epoch (wsbench's default);
# warmup: rate lr * min(1, (k + warmup_start) / warmup_steps) at optimiser step k = 0, 1, ...,
# then constant (ScaleGMN and neural graphs start at 1, NFN's LambdaLR at 0).
SCHEDULES = ("cosine", "warmup")


@dataclass(frozen=True)
class Optimisation:
    """Everything that decides a classifier's update, given its gradients."""

    lr: float
    weight_decay: float = 0.0
    optimiser: str = "adamw"
    amsgrad: bool = False
    schedule: str = "cosine"
    warmup_steps: int = 0
    warmup_start: int = 1
    clip_norm: float = 0.0  # the gradient's total norm is clipped to this (0: no clipping)

    def __post_init__(self):
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"optimiser {self.optimiser!r}: choose one of {', '.join(OPTIMISERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.schedule == "warmup" and self.warmup_steps < 1:
            raise ValueError("the warmup schedule needs warmup_steps >= 1")

    def build(self, model: nn.Module, epochs: int) -> "Optimiser":
        return Optimiser(model, self, epochs)


class Optimiser:
    """One optimiser and its schedule; `step(logits, y)` takes one training step, `end_epoch()`
    closes an epoch."""

    def __init__(self, model: nn.Module, spec: Optimisation, epochs: int):
        self.model, self.spec = model, spec
        kind = torch.optim.AdamW if spec.optimiser == "adamw" else torch.optim.Adam
        self.opt = kind(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay, amsgrad=spec.amsgrad)
        if spec.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)
        else:
            ramp = lambda k: min(1.0, (k + spec.warmup_start) / spec.warmup_steps)  # noqa: E731
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.opt, ramp)

    def step(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits (in float32 where a bf16 forward pass gave bfloat16), one
        update; the loss (detached)."""
        loss = nn.functional.cross_entropy(logits.float(), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.spec.clip_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.spec.clip_norm)
        self.opt.step()
        if self.spec.schedule != "cosine":
            self.scheduler.step()
        return loss.detach()

    def end_epoch(self) -> None:
        if self.spec.schedule == "cosine":
            self.scheduler.step()

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it (the loop saves and restores these objects)."""
        return {"opt": self.opt, "sched": self.scheduler}
