"""Fit many independent INRs at once: one tensor program for the whole batch.

Adam is element-wise and the loss is a sum of per-INR losses, so fitting B INRs
together gives each the same updates as fitting it alone; INRs that reach the
PSNR target stop changing (their step is masked), as DWSNet's early stop does.
"""
from __future__ import annotations

import torch

from wsbench.inr.fields import Field
from wsbench.inr.siren import SirenLayout, psnr, siren_forward


def fit_inrs(layout: SirenLayout, field: Field, init: torch.Tensor, steps: int, lr: float,
             psnr_stop: float | None = None, offset: float = 0.0, progress=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit one SIREN per sample of `field` (on the field's device) from `init` (B, P).

    `offset` is added to every output (DWSNet's +0.5 quirk). Returns the weights
    (B, P) and each INR's final PSNR (B,) on all queries.
    """
    weights = init.clone().to(field.values.device).requires_grad_(True)
    opt = torch.optim.Adam([weights], lr=lr)
    active = torch.ones(len(field), dtype=torch.bool, device=weights.device)
    coords, target = field.at()
    for _ in (progress(range(steps)) if progress else range(steps)):
        pred = siren_forward(layout, weights, coords) + offset
        loss = field.per_sample_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        if psnr_stop is None:
            opt.step()
            continue
        with torch.no_grad():
            active &= 10 * torch.log10(1.0 / loss.detach().clamp_min(1e-12)) < psnr_stop
            if not active.any():
                break
            before = weights.detach().clone()
            opt.step()
            weights[~active] = before[~active]  # Adam's momentum would still move finished INRs
    with torch.no_grad():
        final = psnr(siren_forward(layout, weights, coords) + offset, target)
    return weights.detach(), final
