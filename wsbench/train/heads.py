"""Classifier training with per-epoch predictions, so that the harness does the model
selection: the loop every weight-space classifier and feature head trains with."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from wsbench.core.context import RunContext
from wsbench.core.contracts import HeadResult
from wsbench.core.errors import ProtocolViolation
from wsbench.core.params import parse_widths
from wsbench.core.protocol import nonfinite
from wsbench.models.mlp import mlp
from wsbench.train.loop import Loop
from wsbench.train.optim import Optimisation
from wsbench.train.precision import autocast, native_bf16

# Samples per forward pass when predicting: speed and memory only, the predictions are the
# same. On a CPU small batches keep the graph networks' (B, 32, 32, d) edge states in cache:
# 64 instead of 1,024 predicted 1.75-2.3 times faster (neural graph, ScaleGMN, DWSNet, NFN).
PREDICT_BATCH = {"cpu": 64, "cuda": 1024}


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, precision: str = "fp32", eager: bool = False) -> np.ndarray:
    """Predicted labels; logits that are not finite are refused, not turned into a label by argmax.
    `eager` runs the model's own forward even where the model was compiled in place."""
    model.eval()
    forward = model.forward if eager else model
    batch_size = PREDICT_BATCH.get(x.device.type, 1024)
    out = []
    for i in range(0, len(x), batch_size):
        with autocast(x.device, precision):
            logits = forward(x[i:i + batch_size])
        if not torch.isfinite(logits).all():
            raise ProtocolViolation(f"the classifier's logits of samples {i}-{i + len(logits) - 1} hold "
                                    f"{nonfinite(logits.detach().float().cpu().numpy())}: training diverged "
                                    f"or its inputs are not finite")
        out.append(logits.argmax(1).cpu())
    return torch.cat(out).numpy()


def last_linear(model: nn.Module) -> nn.Linear:
    """The layer that maps features to logits: every wsbench classifier ends in one."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(model).__name__} has no linear layer to take features before")
    return linears[-1]


@contextmanager
def penultimate_features(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect what the model's last linear layer receives on every forward pass inside:
    the head's embedding of the samples, from the passes that predict them."""
    features: list[torch.Tensor] = []
    hook = last_linear(model).register_forward_pre_hook(lambda _, args: features.append(args[0].float().cpu()))
    try:
        yield features
    finally:
        hook.remove()


def predict_with_features(model: nn.Module, x: torch.Tensor, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels and the features before the last linear layer. Where that layer is
    inside the model the pass runs eagerly: a module compiled in place does not see a hook
    registered on a submodule after its compilation."""
    with penultimate_features(model) as features:
        labels = predict(model, x, precision, eager=last_linear(model) is not model)
    return labels, torch.cat(features).numpy()


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def train_classifier(model: nn.Module, batch_inputs: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
                     train_y: torch.Tensor, val_x: torch.Tensor, test_x: torch.Tensor, ctx: RunContext, *,
                     epochs: int, optimisation: Optimisation, batch_size: int, name: str,
                     desc: str = "", precision: str = "fp32") -> HeadResult:
    """`optimisation`'s steps over epochs of shuffled minibatches; after every epoch,
    predictions on val and test. `batch_inputs(idx, generator)` gives the model's input
    for a batch of training indices (where augmentations draw from the generator).
    Resumable per epoch; a last batch of one is skipped when batch norm cannot train on it.
    The head's embeddings are the last epoch's features before the last linear layer.
    Forward passes, training and predicting, run at `precision` (wsbench.train.precision)."""
    if precision == "bf16" and not native_bf16(ctx.device):
        ctx.log(f"{name}: this {ctx.device.type} has no native bfloat16, so precision=bf16 is emulated and slow; "
                f"--param precision=fp32 computes in float32")
    optimiser = optimisation.build(model, epochs)
    gen = torch.Generator().manual_seed(ctx.seed)
    result = HeadResult([], [], num_params=sum(t.numel() for t in model.parameters()))
    min_batch = 2 if has_batch_norm(model) else 1
    train_y = train_y.to(ctx.device)

    def epoch(i: int) -> dict[str, float] | None:
        model.train()
        loss = None
        for idx in torch.randperm(len(train_y), generator=gen).split(batch_size):
            if len(idx) < min_batch:
                continue
            inputs = batch_inputs(idx, gen)
            with autocast(ctx.device, precision):
                logits = model(inputs)
            loss = optimiser.step(logits, train_y[idx.to(ctx.device)])
        optimiser.end_epoch()
        if i + 1 < epochs:
            result.val_pred.append(predict(model, val_x, precision))
            result.test_pred.append(predict(model, test_x, precision))
        else:  # the last epoch's features are the head's embeddings
            (val_pred, result.embeddings["val"]), (test_pred, result.embeddings["test"]) = (
                predict_with_features(model, val_x, precision), predict_with_features(model, test_x, precision))
            result.val_pred.append(val_pred)
            result.test_pred.append(test_pred)
        return {"loss": loss.item()} if loss is not None else None

    Loop(ctx, name, epochs, {"model": model, **optimiser.state(), "gen": gen, "result": result},
         desc=desc or name).run(epoch)
    return result


def train_feature_head(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                       test_x: torch.Tensor, num_classes: int, ctx: RunContext, *,
                       hidden: str = "512,512", epochs: int = 50, lr: float = 1e-3,
                       weight_decay: float = 1e-4, dropout: float = 0.2, batch_size: int = 128,
                       name: str = "head", desc: str = "") -> HeadResult:
    """An MLP on standardised features (latents, pixels), trained by `train_classifier`;
    `name` keeps its checkpoint apart from the run's other heads. Its embeddings are the
    features it was given (a method's latents), not the MLP's hidden layer."""
    for split, x in (("train", train_x), ("val", val_x), ("test", test_x)):
        if not torch.isfinite(x).all():  # a NaN trains nothing and would fail the run only at its end
            raise ProtocolViolation(f"{split} features of head {name!r} hold {nonfinite(x.float().cpu().numpy())}")
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    norm = [((x - mean) / std).to(ctx.device) for x in (train_x, val_x, test_x)]
    model = mlp(train_x.shape[1], parse_widths(hidden), num_classes, dropout).to(ctx.device)
    result = train_classifier(model, lambda idx, gen: norm[0][idx.to(ctx.device)], train_y, norm[1], norm[2], ctx,
                              epochs=epochs, optimisation=Optimisation(lr, weight_decay), batch_size=batch_size,
                              name=name, desc=desc)
    result.embeddings = {"val": val_x.float().cpu().numpy(), "test": test_x.float().cpu().numpy()}
    return result
