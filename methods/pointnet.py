"""Reference baseline, not weight-space: a small PointNet (Qi et al., CVPR 2017) on the
point clouds themselves, without its input and feature transforms.

What working on the shape itself reaches on the same splits, beside the weight-space rows
that first encode each shape as an unsigned-distance INR."""
from __future__ import annotations

import torch
from torch import nn

from wsbench.api import (DataSplits, Method, MethodOutput, Optimisation, Param, RunContext, compile_module,
                         parse_widths, precision_param, train_classifier)


class PointFeatures(nn.Module):
    """The shared per-point MLP (linear maps with batch norm and ReLU), max-pooled over points.
    Points are rows of one (B * P, C) matrix, so each layer is one matrix product."""

    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        ins = (3, *widths[:-1])
        self.linears = nn.ModuleList(nn.Linear(c_in, c_out) for c_in, c_out in zip(ins, widths))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for c in widths)

    def forward(self, clouds: torch.Tensor) -> torch.Tensor:
        """clouds (B, P, 3) -> (B, widths[-1]); invariant to the order of the points."""
        b, n, _ = clouds.shape
        h = clouds.reshape(b * n, 3)
        for linear, norm in zip(self.linears, self.norms):
            h = torch.relu(norm(linear(h)))
        return h.view(b, n, -1).amax(1)


class PointNet(nn.Module):
    """Per-point features, max pooling over points, an MLP head."""

    def __init__(self, num_classes: int, widths: tuple[int, ...], head: int, dropout: float):
        super().__init__()
        self.points = PointFeatures(widths)
        self.head = nn.Sequential(nn.Linear(widths[-1], head), nn.BatchNorm1d(head), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(head, num_classes))

    def forward(self, clouds: torch.Tensor) -> torch.Tensor:
        """clouds (B, P, 3) -> logits (B, classes)."""
        return self.head(self.points(clouds))


class PointNetMethod(Method):
    name = "pointnet"
    version = 3  # 2: points as rows of one matrix (linear maps, not 1x1 convolutions), compiled; 3: bf16 by default
    description = "baseline on the signal: a small PointNet on the point clouds (no transforms)"
    weight_space = False
    modalities = ("pointcloud",)
    params = {
        "widths": Param("64,128,256", "widths of the shared per-point MLP", widths=True),
        "head_hidden": Param(128, "hidden width of the head", low=1),
        "dropout": Param(0.3, "dropout in the head", low=0, high=1),
        "scale": Param(0.2, "training augmentation: each axis scaled by U(1 - s, 1 + s)", low=0, high=0.9),
        "jitter": Param(0.01, "training augmentation: Gaussian noise on every point (std)", low=0),
        "epochs": Param(40, "training epochs", low=1),
        "batch_size": Param(32, "shapes per step", low=2),
        "lr": Param(1e-3, "AdamW learning rate (cosine schedule)", above=0),
        "weight_decay": Param(1e-4, "AdamW weight decay", low=0),
        "compile": Param(True, "compile the per-point MLP with torch.compile (fused batch norm and ReLU, about "
                               "2x faster on a CPU; needs a C++ compiler there)"),
        "precision": precision_param("bf16"),
    }
    # paper: charlesq34/pointnet@2618f72 train.py and models/pointnet_cls_basic.py (PointNet without T-Nets):
    # shared MLP 64-64-64-128-1024, 250 epochs, batch 32, lr 1e-3, no weight decay, jitter 0.01, no scaling.
    # Not expressible here: the head's two layers 512-256 (one hidden layer of 512 here), rotation about the
    # up axis, the jitter clip at 0.05, Adam with a x0.7 step decay every ~20 epochs, the batch-norm momentum.
    profiles = {"quick": {}, "paper": {"widths": "64,64,64,128,1024", "head_hidden": 512, "dropout": 0.3,
                                       "scale": 0.0, "jitter": 0.01, "epochs": 250, "batch_size": 32, "lr": 1e-3,
                                       "weight_decay": 0.0},
                "smoke": {"widths": "8,16", "head_hidden": 8, "epochs": 2}}

    @staticmethod
    def network(num_classes: int, p: dict, device: torch.device) -> PointNet:
        """The network at these parameters, on the device (compiled if `compile`)."""
        model = PointNet(num_classes, parse_widths(p["widths"]), p["head_hidden"], p["dropout"]).to(device)
        if p["compile"]:
            compile_module(model.points, device)
        return model

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        p = params
        train = data.train.x.to(ctx.device)

        def augmented(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            batch = train[idx.to(ctx.device)]
            scale = 1 + p["scale"] * (2 * torch.rand(len(idx), 1, 3, generator=gen) - 1)
            noise = p["jitter"] * torch.randn(batch.shape, generator=gen)
            return batch * scale.to(ctx.device) + noise.to(ctx.device)

        model = self.network(data.num_classes, p, ctx.device)
        with ctx.stage("train"):
            head = train_classifier(model, augmented, data.train.y, data.val.x.to(ctx.device),
                                    data.test.x.to(ctx.device), ctx, epochs=p["epochs"],
                                    optimisation=Optimisation(p["lr"], p["weight_decay"]),
                                    batch_size=p["batch_size"], name="pointnet",
                                    desc="PointNet on clouds", precision=p["precision"])
        return MethodOutput(heads={"points": head}, num_params={"pointnet": head.num_params})
