"""Two-stage weight-space methods: fit an INR zoo, then classify the INRs' weights.

Every adapter of this family (dwsnet, nfn, neural-graph, flat-mlp) declares only
its classifier; the zoo recipe, the weight normalisation, augmentation and the
training loop live here, so the adapters differ in nothing but the network.
"""
from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from wsbench.api import DataSplits, HeadResult, Method, MethodOutput, Param, Reconstruction
from wsbench.classifier import predict
from wsbench.context import RunContext
from wsbench.errors import UserError
from wsbench.inr.siren import INIT_SCHEMES, SirenLayout
from wsbench.timing import Clock
from wsbench.weightspace.symmetry import permute_hidden
from wsbench.zoo import Zoo, ZooSpec

AUGMENTATIONS = ("none", "permute", "affine", "permute+affine")

ZOO_PARAMS = {
    "inr_hidden": Param("32,32", "hidden widths of every INR's SIREN (DWSNet: 32,32)"),
    "inr_steps": Param(1000, "Adam steps per INR at most"),
    "inr_lr": Param(5e-4, "Adam learning rate of the INR fits"),
    "inr_psnr_stop": Param(40.0, "stop fitting an INR at this PSNR in dB (0: never)"),
    "inr_offset": Param(0.0, "added to every INR output (DWSNet's quirk: 0.5)"),
    "inr_init": Param("independent", "random initialisation per INR, or one shared by all",
                      choices=("independent", "shared")),
    "inr_init_scheme": Param("siren", "siren: Sitzmann's init; dwsnet: the init of DWSNet's INR set "
                                      "(low first-layer frequencies, zero biases)", choices=INIT_SCHEMES),
    "views": Param(1, "INRs per training sample, each from its own initialisation"),
    "train_limit": Param(0, "fit and train on only the first N training samples (0: all); "
                            "val and test are always complete"),
    "zoo_seed": Param(0, "seed of the INR initialisations; the zoo is shared by all run seeds "
                         "(-1: the run seed, a zoo per seed)"),
}

# The INR set the published DWSNet/NFN/NG numbers were measured on (init, +0.5
# output offset); on standard SIRENs these classifiers barely learn (see the README).
DWSNET_SET = {"inr_init_scheme": "dwsnet", "inr_offset": 0.5}
# Quick profile of every zoo method, so that they share one zoo: 400 steps (DWSNet's
# recipe has 1,000) on the first 20,000 training images, to fit a CPU hour; chosen on
# test in an earlier version and re-tuned on validation by the methods issue.
QUICK_ZOO = {**DWSNET_SET, "inr_steps": 400, "train_limit": 20000}

TRAIN_PARAMS = {
    "epochs": Param(50, "classifier training epochs"),
    "batch_size": Param(64, "INRs per classifier step"),
    "lr": Param(1e-3, "AdamW learning rate (cosine schedule)"),
    "weight_decay": Param(5e-4, "AdamW weight decay"),
    "augment": Param("none", "weight-space augmentation of training INRs: hidden-neuron permutations, "
                             "and/or a random rotation, scaling and shift of the input coordinates "
                             "(folded into the first layer)", choices=AUGMENTATIONS),
}


def zoo_specs(data: DataSplits, params: dict[str, Any], run_seed: int) -> dict[str, ZooSpec]:
    """The train, val and test zoos a run with these parameters and seed needs."""
    hidden = tuple(int(w) for w in params["inr_hidden"].split(",") if w.strip())
    in_dim = 2 if data.modality == "image" else 3
    out_dim = data.train.x.shape[-1] if data.modality == "image" else 1
    common = dict(widths=(in_dim, *hidden, out_dim), steps=params["inr_steps"], lr=params["inr_lr"],
                  psnr_stop=params["inr_psnr_stop"] or None, offset=params["inr_offset"],
                  init=params["inr_init"], init_scheme=params["inr_init_scheme"],
                  seed=run_seed if params["zoo_seed"] == -1 else params["zoo_seed"])
    return {"train": ZooSpec(data.name, data.checksums, "train", views=params["views"],
                             limit=params["train_limit"], **common),
            "val": ZooSpec(data.name, data.checksums, "val", **common),
            "test": ZooSpec(data.name, data.checksums, "test", **common)}


def affine_augment(layout: SirenLayout, flat: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The INRs of the signals seen through a random rotation (±15°, 2D: about the
    normal, 3D: about z), scaling (0.9-1.1) and shift (±0.1): f(A x + t) has first
    layer W A and bias W t + b, so this is exact in weight space."""
    n, d = flat.shape[0], layout.widths[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.pi / 12
    scale = 0.9 + 0.2 * torch.rand(n, generator=gen)
    rot = torch.eye(d).repeat(n, 1, 1)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = angle.cos(), -angle.sin(), angle.sin(), angle.cos()
    a = (scale[:, None, None] * rot).to(flat)
    t = ((torch.rand(n, d, generator=gen) * 2 - 1) * 0.1).to(flat)
    o = layout.widths[1]
    w, b = flat[:, :o * d].reshape(n, o, d), flat[:, o * d:o * d + o]
    head = torch.cat([(w @ a).flatten(1), b + (w @ t[:, :, None]).squeeze(2)], 1)
    return torch.cat([head, flat[:, o * d + o:]], 1)


class ZooMethod(Method):
    """A classifier of independently fitted INRs; subclasses build the network."""

    modalities = ("image", "pointcloud")
    model_params: dict[str, Param] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.params = {**ZOO_PARAMS, **TRAIN_PARAMS, **cls.model_params}

    @abstractmethod
    def build(self, layout: SirenLayout, num_classes: int, params: dict[str, Any]) -> nn.Module:
        """The classifier of flat, normalised weights (B, P) -> logits."""

    def zoos(self, data: DataSplits, params: dict[str, Any], ctx: RunContext) -> dict[str, Zoo]:
        if ctx.data_root is None:
            raise UserError(f"{self.name} needs a data root to keep its INR zoo in")
        return {part: Zoo(spec, ctx.data_root, getattr(data, part), data.modality)
                for part, spec in zoo_specs(data, params, ctx.seed).items()}

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        zoos = self.zoos(data, params, ctx)
        here = {}
        with ctx.stage("fit_zoo"):
            for part, zoo in zoos.items():
                clock = Clock()
                if zoo.missing():
                    ctx.log(f"fitting the {part} zoo {zoo.spec.zoo_id} ({len(zoo.items)} INRs) in {zoo.folder}")
                    zoo.fit(device=ctx.device, progress=lambda it, **kw: ctx.progress(it, **kw))
                here[part] = clock.elapsed()
        loaded = {part: zoo.load() for part, zoo in zoos.items()}
        for part, zoo in zoos.items():
            ctx.shared_cost(f"zoo {part} {zoo.spec.zoo_id}", zoo.cost(), here[part])
        layout = zoos["train"].spec.layout
        stats = torch.from_numpy(zoos["train"].statistics(loaded["train"]["weights"]))
        raw = {part: torch.from_numpy(z["weights"]) for part, z in loaded.items()}
        y_train = data.train.y[torch.from_numpy(loaded["train"]["sample"])]
        for part in ("val", "test"):  # one view each, in sample order
            assert np.array_equal(loaded[part]["sample"], np.arange(len(getattr(data, part))))
        model = self.build(layout, data.num_classes, params).to(ctx.device)
        with ctx.stage("train_classifier"):
            head = self.train(model, layout, stats, raw, y_train, params, ctx)
        return MethodOutput(heads={"weights": head}, metrics={"train_inrs": float(len(y_train))},
                            num_params={"classifier": head.num_params},
                            reconstruction=Reconstruction(layout, raw["test"], zoos["test"].spec.offset))

    def train(self, model: nn.Module, layout: SirenLayout, stats: torch.Tensor, raw: dict[str, torch.Tensor],
              y_train: torch.Tensor, p: dict[str, Any], ctx: RunContext) -> HeadResult:
        """AdamW with a cosine schedule on weights standardised by the training zoo's
        statistics (augmentations act on the raw weights first); per-epoch
        predictions, checkpointed every epoch."""
        opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=p["epochs"])
        gen = torch.Generator().manual_seed(ctx.seed)
        result = HeadResult([], [], num_params=sum(t.numel() for t in model.parameters()))
        if state := ctx.load_state("classifier"):
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"])
            result = state["result"]
        stats = stats.to(ctx.device)
        normalise = lambda w: (w.to(ctx.device) - stats[0]) / stats[1]  # noqa: E731
        val, test = normalise(raw["val"]), normalise(raw["test"])
        for _ in ctx.progress(range(len(result.val_pred), p["epochs"]), desc=f"{self.name} epochs",
                              total=p["epochs"], initial=len(result.val_pred), unit="epoch"):
            model.train()
            for idx in torch.randperm(len(y_train), generator=gen).split(p["batch_size"]):
                if len(idx) == 1:  # a last batch of one: batch norm cannot train on it
                    continue
                batch = normalise(self.augment(layout, raw["train"][idx], p["augment"], gen))
                loss = nn.functional.cross_entropy(model(batch), y_train[idx].to(ctx.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
            result.val_pred.append(predict(model, val, 1024))
            result.test_pred.append(predict(model, test, 1024))
            ctx.save_state("classifier", {"model": model.state_dict(), "opt": opt.state_dict(),
                                          "sched": sched.state_dict(), "gen": gen.get_state(), "result": result})
        return result

    @staticmethod
    def augment(layout: SirenLayout, raw: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
        """The raw weights of a batch, augmented as `kind` says."""
        if "affine" in kind:
            raw = affine_augment(layout, raw, gen)
        if "permute" in kind:
            raw = permute_hidden(layout, raw, gen)
        return raw
