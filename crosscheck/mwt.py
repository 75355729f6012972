"""MWT (Gielisse & van Gemert, CVPR 2025) against its authors' code (SanderGielisse/MWT).

MWT is trained end to end from the images, so the batch is images, not fitted INRs: the
first 2 x batch training images of wsbench's digits split (8x8), the batch the authors' 16
unless --batch says otherwise (one step of their model takes seconds here). The authors'
side is their own `forward` of train.py (the inner loop, the reconstruction loss and the classifier), their
SirenModel, MetaSGD and WT, built from their tconfig defaults (MWT) with the settings their
datasets.py gives MNIST; their training step (two backward passes, the siren group's
classification gradient times cls_loss_weight, per-group clipping, OneCycleLR) lives in the
`__main__` block of train.py and is restated here. Mixed precision is off (float64). wsbench's
side is the mwt plugin at its paper profile (network=authors): its model, pixel draws, forward
pass and optimiser as runs build them; the check stops where that profile departs from their
configuration.

Both sides draw the same pixel subsets: before each forward the authors' global generator
and wsbench's generator get the same seed, and both draw with torch.multinomial over
uniform weights. The published configuration fits every pixel (subsample_points 1, each
draw a permutation), which would not notice different draws; a second run with half the
pixels per draw checks the subsets themselves.

Modules the authors' train.py imports only for logging and data loading (wandb, and their
datasets.py, which needs torchvision) are replaced by empty stand-ins.
"""
from __future__ import annotations

import contextlib
import io
import sys
import types
import warnings

import torch
from torch import nn

from crosscheck.common import (STEPS, Side, arguments, checkout, compare, digits_train, profile_mismatches,
                               registry, report, samples_per_second, stand_in)
from wsbench.core.params import resolve
from wsbench.models.mwt_transformer import EndToEndMWT, pixel_targets

SIZE = 8  # digits are 8x8
SUBSET_STEPS = 4  # training steps of the half-pixel run
# Fixed in their train.py and WT, not in their configuration: the one-cycle rise, the
# per-group clipping norm, the attention heads' width.
PCT_START, CLIP_NORM, HEAD_DIM = 0.05, 1.0, 64


def digits(n: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The first n training images of wsbench's digits split (n, 8, 8, 1) in [0, 1] as wsbench
    loads them (float64), their labels, and the size of the training split."""
    train = digits_train()
    return train.x[:n].double(), train.y[:n].long(), len(train.y)


def authors_modules(subsample: float) -> tuple[types.ModuleType, dict]:
    """The authors' train.py as a module, and their configuration: tconfig's defaults (the
    MWT configuration) on the CPU without autocast, completed as datasets.py does for MNIST."""
    stand_in("wandb", "datasets", always=True)  # their datasets.py imports torchvision
    import siren_model
    import tconfig
    import train
    warnings.filterwarnings("ignore", message="torch.meshgrid")  # their get_mgrid, indexing "ij" by default
    argv, sys.argv = sys.argv, ["train.py", "--dataset", "mnist", "--device", "cpu", "--auto_cast", "False",
                                "--subsample_points", str(subsample)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the configuration
            conf = tconfig.get_config()
    finally:
        sys.argv = argv
    conf.update(is_3d=False, class_count=10, color_channels=1, omega=10.0, epochs=conf["epochs"] or 10,
                sample_size=int(SIZE * SIZE * conf["subsample_points"]))
    siren_model.device = train.device = "cpu"
    train.conf, train.is_3d = conf, False
    return train, conf


def authors_parts(train: types.ModuleType, conf: dict, seed: int) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter counts
        siren = train.SirenModel(ch_in=2, ch_hiddens=conf["siren_dim"], ch_out=conf["color_channels"],
                                 omega=conf["omega"])
    meta = train.MetaSGD(conf, siren.pass_indices.shape[0])
    return {"siren": siren, "meta": meta, "classifier": train.WT(dim=conf["siren_dim"][1], conf=conf)}


def to_wsbench_flat(parts: list[torch.Tensor]) -> torch.Tensor:
    """The authors' per-layer [W (in, out), b] of one or more rows -> wsbench's flat (out, in) layout."""
    rows = []
    for w, b in zip(parts[0::2], parts[1::2]):
        rows += [w.transpose(-1, -2).flatten(-2), b]
    return torch.cat(rows, -1)


def split_authors_flat(flat: torch.Tensor, shapes: list[torch.Size]) -> list[torch.Tensor]:
    out, start = [], 0
    for shape in shapes:
        out.append(flat[..., start:start + shape.numel()].reshape(*flat.shape[:-1], *shape))
        start += shape.numel()
    return out


def plugin_params(conf: dict) -> dict:
    """The mwt plugin's paper profile, after checking that it is their configuration (with
    `conf`'s pixel fraction: the half-pixel check changes it)."""
    assert conf["mlp_mult"] == 1 and conf["inner_steps_test"] == conf["inner_steps"], "not the published MWT"
    width, depth = conf["siren_dim"][1], conf["siren_depth"]
    theirs = {"network": "authors", "hidden": ",".join([str(width)] * (depth + 1)), "omega": conf["omega"],
              "inner_steps": conf["inner_steps"], "batch_size": conf["batch_size"], "epochs": conf["epochs"],
              "layers": conf["classifier_depth"], "heads": width // HEAD_DIM, "lam": float(conf["modulation_scale"]),
              "w_cls": conf["cls_loss_weight"], "lr": conf["lr_siren_rgb"], "rates_lr": conf["lr_sgd_lrs"],
              "cls_lr": conf["lr_classifier"], "weight_decay": conf["weight_decay"], "warmup_fraction": PCT_START,
              "clip_norm": CLIP_NORM, "query_fraction": 1.0, "fit_query_fraction": 1.0, "evals": conf["epochs"]}
    params = resolve(registry().method("mwt"), {}, "paper")
    if mismatches := profile_mismatches(params, theirs):
        sys.exit(f"mwt's paper profile is not the authors' configuration: {'; '.join(mismatches)}")
    return {**params, "query_fraction": conf["subsample_points"], "fit_query_fraction": conf["subsample_points"]}


def converted(parts: dict[str, nn.Module], conf: dict) -> EndToEndMWT:
    """The plugin's model at its paper profile, holding the authors' parameters."""
    siren, meta, cls = parts["siren"], parts["meta"], parts["classifier"]
    model = registry().method("mwt").authors_network(conf["color_channels"], conf["class_count"], plugin_params(conf))
    shapes = [p.shape for p in siren.sirens]
    state = {"siren.theta": to_wsbench_flat(list(siren.sirens)), "siren.head.weight": siren.out.weight,
             "siren.head.bias": siren.out.bias, "siren.out_scale": siren.out_scale,
             "rates": torch.cat([to_wsbench_flat(split_authors_flat(r, shapes)) for r in meta.meta_lrs_w]),
             "classifier.beta": cls.base[0], "classifier.embed.weight": cls.project_in.weight,
             "classifier.embed.bias": cls.project_in.bias, "classifier.head.weight": cls.to_logits.weight,
             "classifier.head.bias": cls.to_logits.bias}
    for k, (att, mlp) in enumerate(cls.classifier):
        ours = f"classifier.blocks.{k}"
        state |= {f"{ours}.0.norm.weight": att.norm.weight, f"{ours}.0.norm.bias": att.norm.bias,
                  f"{ours}.0.qkv.weight": att.to_qkv.weight, f"{ours}.0.out.weight": att.to_out.weight,
                  f"{ours}.0.out.bias": att.to_out.bias, f"{ours}.0.scale": att.layer_scale,
                  f"{ours}.1.scale": mlp.scale}
        for i in (0, 1, 3):
            state |= {f"{ours}.1.mlp.{i}.weight": mlp.m[i].weight, f"{ours}.1.mlp.{i}.bias": mlp.m[i].bias}
    model.load_state_dict({k: v.detach().clone() for k, v in state.items()})
    return model.to(next(siren.parameters()).dtype)


class Seeds:
    """One seed per forward: the logits use seed 0, training step k seed k + 1, on each side."""

    def __init__(self):
        self.steps = 0

    def next_step(self) -> int:
        self.steps += 1
        return self.steps


def authors_side(train: types.ModuleType, conf: dict, parts: dict[str, nn.Module], total_steps: int) -> Side:
    siren, meta, cls = parts["siren"], parts["meta"], parts["classifier"]
    siren_groups = [{"params": list(siren.parameters()), "lr": conf["lr_siren_rgb"]},
                    {"params": list(meta.parameters()), "lr": conf["lr_sgd_lrs"]}]
    groups = siren_groups + [{"params": list(cls.parameters()), "lr": conf["lr_classifier"]}]
    opt = torch.optim.AdamW(groups, lr=0, weight_decay=conf["weight_decay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=total_steps,
                                                pct_start=0.05)
    seeds = Seeds()

    def run(images: torch.Tensor, seed: int, build_graph: bool):
        train.conf, train.siren_rgb, train.meta_sgd, train.classifier = conf, siren, meta, cls
        train.PI = siren.pass_indices.shape[0]
        torch.manual_seed(seed)
        image = (2 * images - 1).permute(0, 3, 1, 2)  # their ToTensor, then x * 2 - 1: (N, C, H, W) in [-1, 1]
        with torch.enable_grad():
            return train.forward(image, conf["sample_size"], None, build_graph=build_graph,
                                 inner_steps=conf["inner_steps"])

    def logits(images: torch.Tensor) -> torch.Tensor:
        return run(images, 0, False)[0].detach()

    def train_step(images: torch.Tensor, y: torch.Tensor) -> float:
        out, rec, _ = run(images, seeds.next_step(), True)
        ce = nn.functional.cross_entropy(out, y)
        ce.backward(retain_graph=True)
        for group in siren_groups:  # the fitting hears the classifier at cls_loss_weight
            for p in group["params"]:
                if p.grad is not None:
                    p.grad *= conf["cls_loss_weight"]
        rec.backward()
        for group in opt.param_groups:
            nn.utils.clip_grad_norm_(group["params"], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        return (ce + rec).item()

    return Side(logits, train_step)


def wsbench_side(model: EndToEndMWT, conf: dict, total_steps: int) -> Side:
    """The plugin's training step (its optimiser, pixel draws and forward pass) on `model`."""
    plugin, params = registry().method("mwt"), plugin_params(conf)
    optimiser = plugin.authors_optimiser(model, params, total_steps)
    seeds = Seeds()

    def run(images: torch.Tensor, seed: int):
        return plugin.authors_forward(model, *pixel_targets(images), params, torch.Generator().manual_seed(seed))

    def logits(images: torch.Tensor) -> torch.Tensor:
        return run(images, 0)[1]

    def train_step(images: torch.Tensor, y: torch.Tensor) -> float:
        rec, out = run(images, seeds.next_step())
        return optimiser.step(rec.mean() + nn.functional.cross_entropy(out, y)).item()

    return Side(logits, train_step)


def check(train: types.ModuleType, conf: dict, images: torch.Tensor, labels: torch.Tensor, batch: int,
          total_steps: int, steps: int = STEPS) -> dict:
    """Logits and `steps` training steps of both sides from the same parameters."""
    parts = authors_parts(train, conf, seed=0)
    model = converted(parts, conf)
    return compare(authors_side(train, conf, parts, total_steps), wsbench_side(model, conf, total_steps),
                   images, labels, batch, steps)


def main() -> None:
    args = arguments("mwt", __doc__.splitlines()[0])
    source = checkout(args.authors)
    torch.set_default_dtype(torch.float64)
    train, conf = authors_modules(subsample=1.0)
    if not any(a.startswith("--b") for a in sys.argv[1:]):  # no --batch given: the authors' 16
        args.batch = conf["batch_size"]
    images, labels, train_size = digits(2 * args.batch)
    total_steps = conf["epochs"] * (train_size // args.batch)  # their loader drops the last partial batch
    result = check(train, conf, images, labels, args.batch, total_steps)
    half, half_conf = authors_modules(subsample=0.5)
    subsets = check(half, half_conf, images, labels, args.batch, total_steps, steps=SUBSET_STEPS)
    result["half_pixel_subsets"] = {k: subsets[k] for k in (
        "max_logit_relative_error", "max_loss_difference", "losses_authors", "losses_wsbench")}
    for key in ("max_logit_relative_error", "max_loss_difference"):
        result[key] = max(result[key], subsets[key])

    torch.set_default_dtype(torch.float32)  # throughput in float32, from a fresh start
    parts = authors_parts(train, conf, seed=0)
    rates = {"authors": samples_per_second(authors_side(train, conf, parts, total_steps).train_step,
                                           images, labels, args.batch),
             "wsbench": samples_per_second(wsbench_side(converted(parts, conf), conf, total_steps).train_step,
                                           images, labels, args.batch)}
    configuration = {key: conf[key] for key in (
        "config", "dataset", "dim", "siren_depth", "siren_dim", "omega", "inner_steps", "inner_steps_test",
        "subsample_points", "sample_size", "modulation_scale", "cls_loss_weight", "shared_lr",
        "classifier_depth", "mlp_mult", "lr_siren_rgb", "lr_sgd_lrs", "lr_classifier", "weight_decay",
        "batch_size", "epochs", "stages")}
    configuration |= {
        "auto_cast": "off here (float64); the authors train under float16 autocast with a GradScaler",
        "one_cycle_total_steps": total_steps, "one_cycle_pct_start": PCT_START, "clip_norm_per_group": CLIP_NORM,
        "attention_head_dim": HEAD_DIM, "layer_scale": 0.1,
        "images": f"the first {len(images)} images of wsbench's digits train split (8x8)",
        "pixel_draws": "each forward seeds the authors' global generator and wsbench's generator alike; "
                       f"the same check with subsample_points 0.5 over {SUBSET_STEPS} steps in half_pixel_subsets"}
    report("mwt", args, source, configuration, result, rates, adapter_version=registry().method("mwt").version,
           adapter_params={"network": "authors"})


if __name__ == "__main__":
    main()
