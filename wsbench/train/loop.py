"""The one resumable loop: it owns checkpoints, resume and progress; a method supplies the
work of one iteration (an epoch or a step), as Lightning's Trainer does with a module's hooks.

Everything the iterations change (networks, optimizers, schedules, random generators,
tensors, per-epoch predictions) is named in `state`; the loop saves it with the
iteration count every `every` iterations and at the end, and a killed or requeued run
restores it and carries on exactly as an uninterrupted run would.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import torch

from wsbench.core.context import RunContext

CHECKPOINT_STEPS = 100  # iterations between checkpoints of loops whose iteration is one step
T = TypeVar("T")


def snapshot(obj: Any) -> Any:
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    return obj  # a plain object (per-epoch predictions): pickled whole


def restore(obj: Any, saved: Any) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(saved.cpu())  # checkpoints load onto the run's device; generator states live on the CPU
    elif isinstance(obj, torch.Tensor):
        with torch.no_grad():
            obj.copy_(saved)
    elif hasattr(obj, "load_state_dict"):
        obj.load_state_dict(saved)
    else:
        vars(obj).update(vars(saved))


class Loop:
    """`run(step)` calls step(i) for every iteration i not yet done; step may return
    numbers to show beside the progress bar (a loss)."""

    def __init__(self, ctx: RunContext, name: str, total: int, state: dict[str, Any], every: int = 1,
                 desc: str = "", unit: str = "epoch"):
        self.ctx, self.name, self.total, self.state, self.every = ctx, name, total, state, every
        self.desc, self.unit = desc or name, unit

    def resume(self) -> int:
        """Restore the last checkpoint's state; the number of iterations it had done."""
        saved = self.ctx.load_state(self.name)
        if saved is None:
            return 0
        for key, obj in self.state.items():
            restore(obj, saved["state"][key])
        return saved["done"]

    def checkpoint(self, done: int) -> None:
        self.ctx.save_state(self.name, {"done": done, "state": {k: snapshot(v) for k, v in self.state.items()}})

    def run(self, step: Callable[[int], dict[str, float] | None]) -> None:
        start = self.resume()
        bar = self.ctx.progress(total=self.total, initial=start, desc=self.desc, unit=self.unit)
        for i in range(start, self.total):
            shown = step(i)
            bar.update()
            if shown:
                bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            if (i + 1) % self.every == 0 or i + 1 == self.total:
                self.checkpoint(i + 1)
        bar.close()


def stage_result(ctx: RunContext, name: str, compute: Callable[[], T]) -> T:
    """The result of a long stage that is not a loop (fitting one split's latents), computed
    once per run: a resumed run reads it back instead of computing it again."""
    saved = ctx.load_state(name)
    if saved is not None:
        return saved["result"]
    result = compute()
    ctx.save_state(name, {"result": result})
    return result
