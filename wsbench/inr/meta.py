"""Inner loops of meta-learned INRs (Functa, MWT): a few SGD steps from a learned start.

The same function serves training, where the start and the learning rates are
meta-learned through the steps (second order with `create_graph`, else first
order), and inference, where each sample is fitted with exactly the same steps.
"""
from __future__ import annotations

from typing import Callable

import torch


def inner_sgd(start: torch.Tensor, rates: torch.Tensor, loss_fn: Callable[[torch.Tensor, int], torch.Tensor],
              create_graph: bool) -> torch.Tensor:
    """len(rates) steps of x <- x - rates[j] * d loss_fn(x, j) / dx from x = start.

    `loss_fn` returns per-sample losses (B,); `rates[j]` broadcasts against x (one
    rate, one per coordinate). Gradients reach `start` and `rates` when they
    require them; runs under torch.no_grad too (inference).
    """
    with torch.enable_grad():
        x = start if start.requires_grad else start.detach().requires_grad_(True)
        for j in range(len(rates)):
            grad, = torch.autograd.grad(loss_fn(x, j).sum(), x, create_graph=create_graph)
            x = x - rates[j] * grad
    return x


def step_batch(n: int, batch_size: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Generator]:
    """The samples of outer step `step` (passes over a seeded permutation, last partial
    batch dropped) and a generator for that step's other draws. Both depend only on
    (seed, step), so a run resumed from a checkpoint continues exactly as it would have."""
    per_pass = max(1, n // batch_size)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + step // per_pass))
    pos = (step % per_pass) * batch_size
    return order[pos:pos + batch_size], torch.Generator().manual_seed(seed * 1_000_003 + 7919 * step + 1)
