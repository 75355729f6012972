"""Fit many independent INRs at once: one tensor program for the whole batch.

Adam is element-wise and the loss is a sum of per-INR losses, so fitting B INRs
together gives each the same updates as fitting it alone. An INR that reaches
the PSNR target keeps the weights it reached it with (DWSNet's early stop) and
leaves the batch, so the remaining steps cost only the INRs still being fitted.
"""
from __future__ import annotations

import functools
import math

import torch

from wsbench.inr.fields import Field, per_sample_loss
from wsbench.inr.siren import SirenLayout, mse_to_psnr, psnr, siren_forward

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults
CPU_CHUNK = 128  # INRs per tensor program on a CPU: their activations stay in cache


def fit_in_chunks(layout: SirenLayout, field: Field, init: torch.Tensor, steps: int, lr: float,
                  psnr_stop: float | None = None, offset: float = 0.0, chunk: int | None = None,
                  query_order: torch.Tensor | None = None, per_step: int = 0,
                  compiled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """fit_inrs over consecutive chunks of the batch; results do not depend on the chunk.

    On a CPU, 128 INRs at a time run 2.5x faster than 1,024 (the activations of
    a chunk stay in cache); a GPU takes the whole batch at once.
    """
    chunk = chunk or (len(field) if field.values.device.type == "cuda" else CPU_CHUNK)
    fits = [fit_inrs(layout, part, start, steps, lr, psnr_stop, offset, query_order, per_step, compiled)
            for part, start in zip(field.split(chunk), init.split(chunk))]
    weights, quality = (torch.cat(parts) for parts in zip(*fits))
    return weights, quality


def fit_inrs(layout: SirenLayout, field: Field, init: torch.Tensor, steps: int, lr: float,
             psnr_stop: float | None = None, offset: float = 0.0, query_order: torch.Tensor | None = None,
             per_step: int = 0, compiled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit one SIREN per sample of `field` (on the field's device) from `init` (B, P) with Adam.

    `offset` is added to every output (DWSNet's +0.5 quirk). With `per_step` > 0 each step
    sees `per_step` of the queries, the next window of `query_order` (a permutation of the
    query indices, the same for every INR, so that the result does not depend on the batch).
    `compiled`: the loss and its gradient run as one torch.compile program (`compiled_loss`).
    Returns the weights (B, P) and each INR's final PSNR (B,) on all queries.
    """
    loss_of = compiled_loss(layout, field.loss) if compiled else functools.partial(fit_loss, layout, field.loss)
    out = init.detach().clone().to(field.values.device)
    ids = torch.arange(len(field), device=out.device)  # the INRs still being fitted
    w, m, v, part = out.clone(), torch.zeros_like(out), torch.zeros_like(out), field
    for t in range(1, steps + 1):
        w.requires_grad_(True)
        coords, target = part.at(query_window(query_order, per_step, t - 1))
        loss = loss_of(w, coords, target, offset)
        grad, = torch.autograd.grad(loss.sum(), w)
        w = w.detach()
        if psnr_stop is not None:
            done = mse_to_psnr(loss.detach()) >= psnr_stop
            if done.any():
                out[ids[done]] = w[done]
                keep = ~done
                ids, w, m, v, grad, part = ids[keep], w[keep], m[keep], v[keep], grad[keep], part.take(keep)
                if len(ids) == 0:
                    break
        m.mul_(BETAS[0]).add_(grad, alpha=1 - BETAS[0])
        v.mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
        denom = v.sqrt() / math.sqrt(1 - BETAS[1] ** t) + EPS
        w = w - (lr / (1 - BETAS[0] ** t)) * m / denom
    out[ids] = w
    with torch.no_grad():
        coords, target = field.at()
        final = psnr(siren_forward(layout, out, coords) + offset, target)
    return out, final


def fit_loss(layout: SirenLayout, kind: str, w: torch.Tensor, coords: torch.Tensor, target: torch.Tensor,
             offset: float) -> torch.Tensor:
    """Each INR's loss (B,) on these queries."""
    return per_sample_loss(kind, siren_forward(layout, w, coords) + offset, target)


@functools.cache
def compiled_loss(layout: SirenLayout, kind: str):
    """fit_loss compiled by torch.compile (batch size dynamic, one program per layout and loss).

    The fitter's time goes to elementwise passes over (B, queries, width) activations (the
    sines, their cosines in the backward pass, products), not to its small matrix products;
    Inductor fuses them. Its sine differs from ATen's in the last bit, so compiled fits are
    not bit-identical to plain ones and a zoo records which it was (inr_compile)."""
    return torch.compile(functools.partial(fit_loss, layout, kind), dynamic=True)


def query_window(order: torch.Tensor | None, size: int, step: int) -> torch.Tensor | None:
    """The query indices of one fitting step: window `step` of `order`, cyclically (None: all)."""
    if order is None or size <= 0 or size >= len(order):
        return None
    return order[(step * size + torch.arange(size, device=order.device)) % len(order)]
