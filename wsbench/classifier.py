"""The shared classifier head: an MLP on fixed feature vectors (latents, weights).

It returns per-epoch predictions so that the harness does the model selection.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wsbench.api import HeadResult
from wsbench.context import RunContext


def parse_widths(spec: str) -> tuple[int, ...]:
    """"512,512" -> (512, 512); "" -> () (a linear classifier)."""
    return tuple(int(s) for s in spec.split(",") if s.strip())


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    model.eval()
    out = [model(x[i:i + batch_size]).argmax(1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def train_feature_head(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                       test_x: torch.Tensor, num_classes: int, ctx: RunContext, *,
                       hidden: str = "512,512", epochs: int = 50, lr: float = 1e-3,
                       weight_decay: float = 1e-4, dropout: float = 0.2, batch_size: int = 128,
                       desc: str = "classifier") -> HeadResult:
    """Train an MLP on standardised features; predict val and test after every epoch."""
    device = ctx.device
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    norm = [((x - mean) / std).to(device) for x in (train_x, val_x, test_x)]
    train_y = train_y.to(device)
    model = mlp(train_x.shape[1], parse_widths(hidden), num_classes, dropout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(ctx.seed)
    result = HeadResult([], [], num_params=sum(p.numel() for p in model.parameters()))
    for _ in ctx.progress(range(epochs), desc=desc, unit="epoch"):
        model.train()
        for idx in torch.randperm(len(train_y), generator=gen).split(batch_size):
            idx = idx.to(device)
            loss = nn.functional.cross_entropy(model(norm[0][idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        result.val_pred.append(predict(model, norm[1]))
        result.test_pred.append(predict(model, norm[2]))
    return result
