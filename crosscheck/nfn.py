"""NFN against its authors' code (github.com/AllanYangZhou/nfn, experiments/classify_siren.py):
their SIREN classifier as their README trains it on MNIST (`launch_classify_siren +setup=mnist`:
main.yaml with nfnet/inv_ff.yaml, an HNP network on random Fourier features of the raw
weights, and opt/adam.yaml with a linear warm-up), against wsbench's NFN plugin at its paper
profile (network=authors): its network, input preprocessing and optimiser as runs build them.

Run: python -m crosscheck.nfn /path/to/nfn-checkout (needs einops, which their layers import).
The authors' side reads their YAML files, builds their InvariantNFN and takes wsbench's INRs
through their own path (a SIREN state dict per INR, state_dict_to_tensors, default_collate);
their training step is written out here because theirs moves labels to CUDA. Besides the
published warm-up (10,000 steps, so the 20 steps run at rates below 2e-7 and hardly move the
parameters), the training is compared once more with a 10-step warm-up, so that the
optimiser's steps show in the losses.
"""
from __future__ import annotations

import copy
import functools
import importlib
import inspect
import re
import sys
from collections import OrderedDict
from pathlib import Path

import torch
import yaml
from torch import nn
from torch.utils.data import default_collate

from crosscheck.common import (SHORT_WARMUP, Side, arguments, checkout, compare, profile_mismatches, registry,
                               report, samples_per_second, with_short_warmup, wsbench_inrs)
from wsbench.core.params import resolve
from wsbench.inr.siren import SirenLayout, pixel_grid, siren_forward
from wsbench.models.nfn_classifier import NFNClassifier

CONFIGS = Path("experiments") / "classify_siren_configs"


def load(root: Path, name: str) -> dict:
    """One of their YAML files; numbers such as 1e-4, which YAML 1.1 reads as text, as floats."""
    def numbers(node):
        if isinstance(node, dict):
            return {k: numbers(v) for k, v in node.items()}
        if isinstance(node, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?", node):
            return float(node)
        return node
    return numbers(yaml.safe_load((root / CONFIGS / f"{name}.yaml").read_text()))


def compose(root: Path, group: str, name: str) -> dict:
    """A config of `group` with its defaults list resolved as Hydra 1.1 does: the defaults
    first, the file's own values over them."""
    node = load(root, f"{group}/{name}" if group else name)
    out: dict = {}
    for entry in node.pop("defaults", []):
        if isinstance(entry, dict):
            (sub, choice), = entry.items()
            out[sub] = compose(root, f"{group}/{sub}" if group else sub, choice)
    for key, value in node.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def published(root: Path) -> dict:
    """main.yaml's choices (nfnet, opt) and settings, with setup/mnist.yaml's override."""
    main = load(root, "main")
    choice = {k: v for entry in main["defaults"] if isinstance(entry, dict) for k, v in entry.items()}
    setup = load(root, "setup/mnist")
    return {"nfnet": compose(root, "nfnet", choice["nfnet"]), "opt": load(root, f"opt/{choice['opt']}"),
            **{k: main[k] for k in ("batch_size", "warmup_steps", "max_steps")}, "extra_aug": setup["extra_aug"],
            "files": f"{CONFIGS}/main.yaml (nfnet: {choice['nfnet']}, opt: {choice['opt']}), setup/mnist.yaml"}


def instantiate(node, *args):
    """Their config nodes as Hydra builds them: `_target_` called (or partially applied
    when `_partial_`) with the node's other keys, nested targets first."""
    if not (isinstance(node, dict) and "_target_" in node):
        return node
    module, name = node["_target_"].rsplit(".", 1)
    target = getattr(importlib.import_module(module), name)
    kwargs = {k: instantiate(v) for k, v in node.items() if k not in ("_target_", "_partial_")}
    return functools.partial(target, *args, **kwargs) if node.get("_partial_") else target(*args, **kwargs)


class Authors:
    """Their SIREN, their weight-space features and their classifier."""

    def __init__(self, root: Path, layout: SirenLayout):
        sys.path.insert(0, str(root / "experiments" / "perceiver-pytorch"))  # their models.py imports it
        from experiments import siren_utils
        from nfn.common import WeightSpaceFeatures, network_spec_from_wsfeat, state_dict_to_tensors
        self.WeightSpaceFeatures, self.state_dict_to_tensors = WeightSpaceFeatures, state_dict_to_tensors
        self.siren = siren_utils.Siren(**siren_utils.SIREN_kwargs["mnist"]).double()
        self.keys = list(self.siren.state_dict())
        self.layout = layout
        self.spec = lambda features: network_spec_from_wsfeat(features, set_all_dims=True)

    def state_dicts(self, flat: torch.Tensor) -> list[OrderedDict]:
        tensors = [[t for w, b in self.layout.unflatten(flat) for t in (w[n], b[n])] for n in range(len(flat))]
        return [OrderedDict(zip(self.keys, ts)) for ts in tensors]

    def features(self, flat: torch.Tensor):
        """wsbench's flat weights as their data loader hands a batch of SIREN files to the model."""
        batch = default_collate([self.state_dict_to_tensors(sd) for sd in self.state_dicts(flat)])
        return self.WeightSpaceFeatures(*batch)

    def siren_difference(self, flat: torch.Tensor) -> float:
        """Largest difference between their SIREN and wsbench's on these weights (both sin(30 (W x + b)))."""
        coords = pixel_grid(8, 8).double()
        worst = 0.0
        with torch.no_grad():
            for n, sd in enumerate(self.state_dicts(flat)):
                self.siren.load_state_dict(sd)
                ours = siren_forward(self.layout, flat[n:n + 1], coords)[0]
                worst = max(worst, (self.siren(coords)[0] - ours).abs().max().item())
        return worst

    def model(self, nfnet: dict, flat: torch.Tensor) -> nn.Module:
        return instantiate(nfnet, self.spec(self.features(flat)))


def convert(theirs: nn.Module, ours: NFNClassifier) -> dict[str, torch.Tensor]:
    """Their InvariantNFN's parameters as wsbench's NFNClassifier state dict (same inputs and
    outputs in the same order: convolutions of width 1 become linear maps)."""
    src = theirs.state_dict()
    out = {"frequencies": src["nfnet_features.0._B"][0]}
    layers = [(f"nfnet_features.{k}.", m) for k, m in theirs.nfnet_features.named_children()
              if type(m).__name__ == "HNPLinear"]
    for n, (p, layer) in enumerate(layers):
        depth = layer.L
        for i in range(1, depth + 1):
            a = i - 1  # their layer index
            if i == 1:
                names = {"weight_maps.0.neuron": "w0_rpt", "weight_maps.0.summary": "w0_rbdcst",
                         "bias_maps.0.neuron": "bias_0", "bias_maps.0.summary": "bias_0_rc"}
            elif i == depth:
                names = {f"weight_maps.{a}.neuron": "wfin_cpt", f"weight_maps.{a}.summary": "wfin_cbdcst",
                         f"bias_maps.{a}.summary": "bias_fin_rc"}
            else:
                names = {f"weight_maps.{a}.entry": f"layer_{a}", f"weight_maps.{a}.summary": f"layer_{a}_rc",
                         f"weight_maps.{a}.column": f"layer_{a}_r", f"weight_maps.{a}.row": f"layer_{a}_c",
                         f"bias_maps.{a}.row": f"bias_{a}", f"bias_maps.{a}.summary": f"bias_{a}_rc"}
            for mine, their in names.items():
                out[f"layers.{n}.{mine}.weight"] = src[f"{p}{their}.weight"].flatten(1)
                out[f"layers.{n}.{mine}.bias"] = src[f"{p}{their}.bias"]
    their_linears = [k for k, m in theirs.head.head.named_children() if isinstance(m, nn.Linear)]
    our_linears = [k for k, m in ours.head.named_children() if isinstance(m, nn.Linear)]
    for t, o in zip(their_linears, our_linears, strict=True):
        for kind in ("weight", "bias"):
            out[f"head.{o}.{kind}"] = src[f"head.head.{t}.{kind}"]
    return out


def wsbench_params(config: dict, nfnet: dict) -> dict:
    """Their configuration as the NFN plugin's parameters (their classifier's dropout as `nfnet` has it)."""
    from experiments.models import MlpHead
    width = inspect.signature(MlpHead).parameters["h_size"].default  # their MlpHead: two hidden layers
    fourier, channels = nfnet["inp_enc_cls"], nfnet["hchannels"]
    assert nfnet["mode"] == "HNP" and nfnet["pos_enc_cls"] is None and not nfnet["normalize"]
    assert len(set(channels)) == 1, f"their channels {channels} differ per layer"
    return {"network": "authors", "mode": "hnp", "channels": channels[0], "layers": len(channels),
            "fourier": fourier["mapping_size"], "fourier_scale": float(fourier["scale"]),
            "head_hidden": f"{width},{width}", "dropout": nfnet["head_cls"]["dropout"], "lr": config["opt"]["lr"],
            "weight_decay": 0.0, "warmup_steps": int(config["warmup_steps"]), "batch_size": int(config["batch_size"])}


class Wsbench:
    """wsbench's NFN plugin at its paper profile, which must be their configuration, with the
    head's dropout off for the check."""

    def __init__(self, config: dict, nfnet: dict):
        self.cls = registry().method("nfn")
        self.params = resolve(self.cls, {"dropout": "0"}, "paper")
        theirs = wsbench_params(config, nfnet)
        if mismatches := profile_mismatches(self.params, theirs):
            sys.exit(f"nfn's paper profile is not the authors' configuration: {'; '.join(mismatches)}")

    def model(self, layout: SirenLayout, num_classes: int) -> NFNClassifier:
        return self.cls().build(layout, num_classes, self.params)

    def preprocess(self, flat: torch.Tensor) -> torch.Tensor:
        """The plugin's normaliser (the authors' network reads raw weights)."""
        stats = torch.stack([flat.mean(0), flat.std(0)])
        return self.cls().normaliser(stats, torch.device("cpu"), self.params)(flat)

    def optimiser(self, model: nn.Module, warmup: int):
        return self.cls().optimisation({**self.params, "warmup_steps": warmup}).build(model, epochs=1)


def sides(authors: Authors, wsbench: Wsbench, theirs: nn.Module, ours: NFNClassifier, opt_config: dict,
          warmup: int) -> tuple[Side, Side]:
    """Both models trained from their current parameters: their optimiser (opt/adam.yaml) and
    LambdaLR(min(1, k / warmup)) stepped after each update, and the plugin's optimisation."""
    opt = instantiate(opt_config, theirs.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, k / warmup))
    mine = wsbench.optimiser(ours, warmup)

    def their_step(flat, y):
        theirs.train()
        opt.zero_grad(True)
        loss = nn.functional.cross_entropy(theirs(authors.features(flat)), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    def our_step(flat, y):
        ours.train()
        return mine.step(ours(wsbench.preprocess(flat)), y).item()

    def their_logits(flat):
        theirs.eval()
        return theirs(authors.features(flat))

    def our_logits(flat):
        ours.eval()
        return ours(wsbench.preprocess(flat))

    return Side(their_logits, their_step), Side(our_logits, our_step)


def main() -> None:
    args = arguments("nfn", __doc__.splitlines()[0])
    source = checkout(args.authors)
    root = Path(source["path"])
    config = published(root)
    assert config["opt"]["_target_"] == "torch.optim.Adam" and set(config["opt"]) == {"_target_", "lr"}
    warmup = int(config["warmup_steps"])
    nfnet = copy.deepcopy(config["nfnet"])
    nfnet["head_cls"]["dropout"] = 0.0  # dropout off for the check (published: see config)
    assert nfnet["feature_dropout"] == 0 and not nfnet["append_stats"] and nfnet["lnorm"] is None

    layout, weights, labels = wsbench_inrs(2 * args.batch)
    torch.set_default_dtype(torch.float64)
    authors = Authors(root, layout)
    torch.manual_seed(0)
    theirs = authors.model(nfnet, weights[:args.batch])
    wsbench = Wsbench(config, nfnet)
    ours = wsbench.model(layout, int(nfnet["head_cls"]["num_out"]))
    start = convert(theirs, ours)
    ours.load_state_dict(start)
    initial = copy.deepcopy(theirs.state_dict())

    result = compare(*sides(authors, wsbench, theirs, ours, config["opt"], warmup), weights, labels, args.batch)
    theirs.load_state_dict(initial)
    ours.load_state_dict(start)
    short = compare(*sides(authors, wsbench, theirs, ours, config["opt"], SHORT_WARMUP), weights, labels, args.batch)
    result = with_short_warmup(result, short)

    torch.set_default_dtype(torch.float32)
    theirs.load_state_dict(initial)
    ours.load_state_dict(start)
    their_side, our_side = sides(authors, wsbench, theirs.float(), ours.float(), config["opt"], warmup)
    rates = {"authors": samples_per_second(their_side.train_step, weights, labels, args.batch),
             "wsbench": samples_per_second(our_side.train_step, weights, labels, args.batch)}
    configuration = {
        "files": config["files"], "command": "python -m experiments.launch_classify_siren +setup=mnist",
        "nfnet": config["nfnet"], "opt": config["opt"], "batch_size": config["batch_size"],
        "warmup_steps": warmup, "max_steps": config["max_steps"], "extra_aug": config["extra_aug"],
        "schedule": "LambdaLR min(1, k / warmup_steps), stepped after every update (rate 0 at the first)",
        "checked_with": {"head_cls.dropout": 0.0, "dtype": "float64",
                         "loss_check_also_with_warmup_steps": SHORT_WARMUP},
        "parameters": sum(p.numel() for p in ours.parameters()),
        "siren_max_abs_difference": authors.siren_difference(weights.double()),
    }
    report("nfn", args, source, configuration, result, rates, adapter_version=wsbench.cls.version,
           adapter_params={"network": "authors"})


if __name__ == "__main__":
    main()
