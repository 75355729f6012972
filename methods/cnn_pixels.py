"""Reference baseline, not weight-space: a small CNN on the pixels.

What working on the image itself costs and reaches on the same splits, beside the
weight-space rows that first encode each image as an INR."""
from __future__ import annotations

from torch import nn

from wsbench.api import DataSplits, Method, MethodOutput, Optimisation, Param, RunContext, train_classifier


def small_cnn(channels: int, num_classes: int, width: int, dropout: float) -> nn.Sequential:
    """Two conv-conv-pool blocks (width, 2 x width channels), global average pooling, a linear head."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(channels, width), *block(width, 2 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(dropout), nn.Linear(2 * width, num_classes))


class CNNPixels(Method):
    name = "cnn-pixels"
    description = "baseline on the signal: a small CNN on the pixels (two conv blocks)"
    weight_space = False
    params = {
        "width": Param(32, "channels of the first block (the second has twice as many)", low=1),
        "dropout": Param(0.2, "dropout before the linear head", low=0, high=1),
        "epochs": Param(10, "training epochs", low=1),
        "batch_size": Param(128, "images per step", low=1),
        "lr": Param(1e-3, "AdamW learning rate (cosine schedule)", above=0),
        "weight_decay": Param(5e-4, "AdamW weight decay", low=0),
    }
    # paper: no published configuration (a wsbench baseline); the quick network trained three times longer
    profiles = {"quick": {}, "paper": {"epochs": 30}, "smoke": {"width": 4, "epochs": 2}}

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        to_nchw = lambda x: x.permute(0, 3, 1, 2).contiguous().to(ctx.device)  # noqa: E731
        train, val, test = to_nchw(data.train.x), to_nchw(data.val.x), to_nchw(data.test.x)
        model = small_cnn(train.shape[1], data.num_classes, params["width"], params["dropout"]).to(ctx.device)
        with ctx.stage("train"):
            head = train_classifier(model, lambda idx, gen: train[idx.to(ctx.device)], data.train.y, val, test, ctx,
                                    epochs=params["epochs"],
                                    optimisation=Optimisation(params["lr"], params["weight_decay"]),
                                    batch_size=params["batch_size"], name="cnn", desc="CNN on pixels")
        return MethodOutput(heads={"pixels": head}, num_params={"cnn": head.num_params})
