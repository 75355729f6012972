"""ScaleGMN-B (Kalogeropoulos et al., NeurIPS 2024) on INRs: the authors' ScaleGMN built from
their configs/fmnist_cls/scalegmn_bidir.yml (dropout 0.2 -> 0, the layout of wsbench's INRs,
10 classes) against wsbench's scalegmn plugin (network=authors) with the authors' parameters.

The authors' side takes each INR the way their pipeline does: their phase canonicalisation
(src/phase_canonicalization/shift_params.py, which their `switch_to_canon` datasets were
written with) on the INR's state dict, then their Fashion-MNIST INR dataset (state dict ->
graph, no normalisation) and torch-geometric's loader. wsbench's side is the scalegmn plugin
at its paper profile (network=authors, dropout off): its normaliser, its network
(wsbench.models.canonical.fold_phases, then ScaleGMN-B) and its optimisation; the check
exits where that profile departs from their configuration. Import shims that leave what their code
computes unchanged: their data package's __init__ imports every dataset (MNIST's needs
torchvision), so src.data is entered without it; `nfn.common` (imported by their base dataset
and loss module), `rff.layers` and `torchvision.utils` (imported by the module that defines
their Sine) are not used on this path and stand in as empty modules where not installed;
their WarmupLRScheduler passes `verbose`, which torch 2.13's LRScheduler no longer takes, so
the check builds it without that argument, its get_lr untouched.
"""
from __future__ import annotations

import copy
import io
import math
import sys
import types
from pathlib import Path

import torch
import yaml

from crosscheck.common import (SHORT_WARMUP, Side, arguments, checkout, compare, profile_mismatches, registry,
                               report, samples_per_second, stand_in, with_short_warmup, without_verbose,
                               wsbench_inrs)
from wsbench.core.params import resolve
from wsbench.inr.siren import SirenLayout
from wsbench.models.canonical import fold_phases

CONFIG = "configs/fmnist_cls/scalegmn_bidir.yml"
SEED = 0
# The authors' MLP (fc.0, ln.0, activation, dropout, fc.1) -> wsbench's norm_mlp indices.
MLP = {"fc.0": "0", "ln.0": "1", "fc.1": "4"}


def load_authors(path: Path, layout: SirenLayout, num_classes: int, dropout: float | None = 0.0) -> dict:
    """Their configuration as their training script completes it (overwrite_conf), with
    dropout off (or at `dropout`; None: theirs), wsbench's layout and class count; the import
    shims described above."""
    stand_in("nfn", "nfn.common", "torchvision", "torchvision.utils", "rff", "rff.layers")
    data = types.ModuleType("src.data")
    data.__path__ = [str(path.resolve() / "src" / "data")]
    sys.modules["src.data"] = data
    sys.path.insert(0, str(path.resolve() / "src" / "phase_canonicalization"))  # shift_params imports test_inr
    from src.utils import optim
    from src.utils.helpers import overwrite_conf
    optim.WarmupLRScheduler = without_verbose(optim.WarmupLRScheduler)  # what their setup_optimization builds
    conf = yaml.safe_load((path / CONFIG).read_text())
    if dropout is not None:
        conf["scalegmn_args"]["gnn_args"]["dropout"] = dropout  # dropout_all copies it into every MLP
    conf = overwrite_conf(conf, {})
    conf["data"]["layer_layout"] = conf["scalegmn_args"]["layer_layout"] = list(layout.widths)
    conf["data"]["switch_to_canon"] = False  # the check canonicalises with their shift_params itself
    conf["scalegmn_args"]["readout_args"]["d_out"] = num_classes
    return conf


def authors_fold(layout: SirenLayout, flat: torch.Tensor) -> torch.Tensor:
    """Their shift_params, one INR at a time as their canonicalisation script runs it: flat rows back."""
    from shift_params import shift_params
    rows = []
    for row in flat:
        layers = layout.unflatten(row[None])
        weights, biases = shift_params(([w for w, _ in layers], [b for _, b in layers]))
        rows.append(torch.cat([t for w, b in zip(weights, biases) for t in (w.flatten(), b.flatten())]))
    return torch.stack(rows)


def wide_biases(layout: SirenLayout, n: int = 64) -> torch.Tensor:
    """SIREN weights whose biases spread over [-4π, 4π] (and hit π/2, π, 2π, 0 exactly), where
    every branch of the phase fold acts; the batch's INRs stay in the branch that changes nothing."""
    gen = torch.Generator().manual_seed(SEED)
    flat = layout.init(n, gen)
    for _, b in layout.unflatten(flat):
        b.copy_((torch.rand(b.shape, generator=gen) * 2 - 1) * 4 * math.pi)
    layout.unflatten(flat)[0][1][0, :4] = torch.tensor([math.pi / 2, math.pi, 2 * math.pi, 0.0])
    return flat


def their_state(layout: SirenLayout, row: torch.Tensor, label: int) -> dict:
    """One INR's flat weights (already in canonical form) as the state dict their data sets hold."""
    state = {}
    for k, (w, b) in enumerate(layout.unflatten(row[None])):
        state[f"seq.{k}.weight"], state[f"seq.{k}.bias"] = w[0].clone(), b[0].clone()
    return {**state, "label": int(label)}


def authors_graphs(conf: dict, layout: SirenLayout, flat: torch.Tensor, labels: torch.Tensor):
    """Their pipeline for a batch: their phase canonicalisation, the state dict their dataset
    reads, their graph, one batch of their loader."""
    import torch_geometric
    from src.data.fmnist_inr_dataset import LabeledFashionMnistINRDataset
    from src.utils.helpers import mask_hidden, mask_input

    files = []
    for row, label in zip(authors_fold(layout, flat), labels):
        buffer = io.BytesIO()
        torch.save(their_state(layout, row, label), buffer)
        files.append(buffer.getvalue())

    class InMemory(LabeledFashionMnistINRDataset):
        def load_dataset(self, split_path):
            return files

        def get_path(self, index):
            return io.BytesIO(files[index]), None

    dataset = InMemory(**conf["data"], direction=conf["scalegmn_args"]["direction"],
                       equiv_on_hidden=mask_hidden(conf), get_first_layer_mask=mask_input(conf))
    return next(iter(torch_geometric.loader.DataLoader(dataset, batch_size=len(files), shuffle=False)))


def mlp_names(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.{i}.{p}": f"{theirs}.{j}.{p}" for j, i in MLP.items() for p in ("weight", "bias")}


def invariant_names(ours: str, theirs: str) -> dict[str, str]:
    return {**mlp_names(f"{ours}.even.rho", f"{theirs}.rho"), **mlp_names(f"{ours}.phi", f"{theirs}.phi")}


def equivariant_names(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.linear.weight": f"{theirs}.W.weight", **invariant_names(f"{ours}.gate", f"{theirs}.g.g1")}


def parameter_names(layers: int) -> dict[str, str]:
    """wsbench's parameter name -> the authors'. Theirs that wsbench lacks never reach the
    logits: messages to input nodes in the forward direction and to output nodes in the
    backward one (no such edges; their outputs are multiplied by a zero mask) and the
    readout's `phi` (built, not called)."""
    names = {"bias_embedding.weight": "construct_graph.proj_bias.weight",
             "weight_embedding.weight": "construct_graph.proj_weight.weight",
             "node_position": "positional_embeddings.pos_embed",
             "edge_position": "positional_embeddings_edge.pos_embed",
             **invariant_names("readout_hidden", "gnn.readout.g1"), **mlp_names("head", "gnn.readout.global_mlp")}
    for i in range(layers):
        ours = f"layers.{i}"
        for direction, theirs, io_target in (("forward", "fw", "last"), ("backward", "bw", "in")):
            names[f"{ours}.{direction}_messages.edge_map.weight"] = f"gnn.{theirs}_layers.{i}.w_e.weight"
            names[f"{ours}.{direction}_messages.node_map.weight"] = f"gnn.{theirs}_layers.{i}.w_v.weight"
            message = f"gnn.{theirs}_layers.{i}.message_fn"
            names.update(equivariant_names(f"{ours}.{direction}_messages.to_hidden", f"{message}.eq_layers.0"))
            names.update(mlp_names(f"{ours}.{direction}_messages.to_io", f"{message}.eq_layers_{io_target}.0.rho"))
        update = f"gnn.update_node_feats_fn.{i}"
        names.update(equivariant_names(f"{ours}.update_hidden", f"{update}.eq_layers.0"))
        names.update(mlp_names(f"{ours}.update_input", f"{update}.eq_layers_in.0.rho"))
        names.update(mlp_names(f"{ours}.update_output", f"{update}.eq_layers_last.0.rho"))
        names[f"{ours}.skip.weight"] = f"gnn.skip_layers.{i}.weight"
        if i < layers - 1:
            edge = f"gnn.fw_update_edge_attr_fn.{i}"
            names[f"{ours}.edge_update.linear.weight"] = f"{edge}.W.weight"
            names.update(mlp_names(f"{ours}.edge_update.even.rho", f"{edge}.g1.rho"))
            names.update(mlp_names(f"{ours}.edge_update.phi", f"{edge}.phi"))
    return names


def unused(name: str) -> bool:
    """The authors' parameters that parameter_names leaves out (see there)."""
    return (".message_fn.eq_layers_in." in name and ".fw_layers." in name
            or ".message_fn.eq_layers_last." in name and ".bw_layers." in name
            or name.startswith("gnn.readout.phi."))


class Wsbench:
    """wsbench's scalegmn plugin at its paper profile with dropout off, which must otherwise be
    their configuration (`published_dropout`: the dropout their file sets)."""

    def __init__(self, conf: dict, published_dropout: float):
        self.cls = registry().method("scalegmn")
        self.params = resolve(self.cls, {"dropout": "0"}, "paper")
        args, opt = conf["scalegmn_args"], conf["optimization"]
        theirs = {"network": "authors", "hidden": args["d_hid"], "layers": args["num_layers"],
                  "dropout": args["gnn_args"]["dropout"], "lr": float(opt["optimizer_args"]["lr"]),
                  "weight_decay": float(opt["optimizer_args"]["weight_decay"]),
                  "warmup_steps": opt["scheduler_args"]["warmup_steps"],
                  "clip_norm": float(opt["clip_grad_max_norm"]) if opt["clip_grad"] else 0.0,
                  "batch_size": conf["batch_size"], "epochs": conf["train_args"]["num_epochs"]}
        mismatches = profile_mismatches(self.params, theirs)
        if self.cls.profiles["paper"]["dropout"] != published_dropout:
            mismatches.append(f"dropout: {self.cls.profiles['paper']['dropout']!r} != {published_dropout!r}")
        if (opt["optimizer_name"], opt["scheduler_args"]["scheduler"]) != ("AdamW", "WarmupLRScheduler"):
            mismatches.append(f"optimiser {opt['optimizer_name']} with {opt['scheduler_args']['scheduler']}")
        if mismatches:
            sys.exit(f"scalegmn's paper profile is not the authors' configuration: {'; '.join(mismatches)}")


def sides(conf: dict, layout: SirenLayout, dtype: torch.dtype, wsbench: Wsbench,
          warmup: int | None = None) -> tuple[Side, Side]:
    """Both models from the same parameters, each with its own optimisation; `warmup`: both
    sides' warm-up steps in place of the configuration's."""
    from src.scalegmn.models import ScaleGMN
    from src.utils.loss import select_criterion
    from src.utils.optim import setup_optimization

    params = wsbench.params
    if warmup is not None:
        conf = copy.deepcopy(conf)
        conf["optimization"]["scheduler_args"]["warmup_steps"] = warmup
        params = {**params, "warmup_steps": warmup}
    args, opt = conf["scalegmn_args"], conf["optimization"]
    torch.manual_seed(SEED)
    theirs = ScaleGMN(args).to(dtype).train()
    model = wsbench.cls().build(layout, args["readout_args"]["d_out"], params).to(dtype).train()
    ours = model.net  # ScaleGMN-B behind the phase fold
    state = theirs.state_dict()
    names = parameter_names(args["num_layers"])
    left = sorted(set(state) - set(names.values()))
    assert all(unused(name) for name in left), f"authors' parameters without a wsbench counterpart: {left}"
    ours.load_state_dict({name: state[theirs_name] for name, theirs_name in names.items()}, strict=True)

    parameters = [p for p in theirs.parameters() if p.requires_grad]
    optimizer, (scheduler, kind) = setup_optimization(parameters, opt["optimizer_name"], opt["optimizer_args"],
                                                      opt["scheduler_args"])
    criterion = select_criterion(conf["train_args"]["loss"], {})

    def authors_logits(flat):
        return theirs(authors_graphs(conf, layout, flat, torch.zeros(len(flat))))

    def authors_step(flat, y):  # their training loop's step
        batch = authors_graphs(conf, layout, flat, y)
        optimizer.zero_grad()
        loss = criterion(theirs(batch), batch.label)
        loss.backward()
        if opt["clip_grad"]:
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), opt["clip_grad_max_norm"])
        optimizer.step()
        if kind is not None and kind != "ReduceLROnPlateau":
            scheduler.step()
        return loss.item()

    optimiser = wsbench.cls().optimisation(params).build(model, params["epochs"])

    def wsbench_logits(flat):
        stats = torch.stack([flat.abs().mean(0), flat.std(0)])  # unused by network=authors: raw weights
        return model(wsbench.cls().normaliser(stats, torch.device("cpu"), params)(flat))

    def wsbench_step(flat, y):
        return optimiser.step(wsbench_logits(flat), y).item()

    return Side(authors_logits, authors_step), Side(wsbench_logits, wsbench_step)


def main() -> None:
    args = arguments("scalegmn", __doc__.splitlines()[0])
    source = checkout(args.authors)
    layout, weights, labels = wsbench_inrs(2 * args.batch)
    conf = load_authors(args.authors, layout, 10)
    published = yaml.safe_load((args.authors / CONFIG).read_text())["scalegmn_args"]["gnn_args"]["dropout"]
    wsbench = Wsbench(conf, published)
    torch.set_default_dtype(torch.float64)  # their dataset allocates its graphs in the default dtype
    authors, ours = sides(conf, layout, torch.float64, wsbench)
    wide = wide_biases(layout)
    folded = fold_phases(layout, wide)
    fold = {"max_difference_on_wide_biases": (folded - authors_fold(layout, wide)).abs().max().item(),
            "entries_it_changes_of_wide_biases": int((folded != wide).sum()), "entries_of_wide_biases": wide.numel(),
            "changes_the_batch": not torch.equal(fold_phases(layout, weights), weights)}
    assert fold["max_difference_on_wide_biases"] == 0, f"wsbench's phase fold is not the authors': {fold}"
    short = compare(*sides(conf, layout, torch.float64, wsbench, SHORT_WARMUP), weights, labels, args.batch)
    result = {**with_short_warmup(compare(authors, ours, weights, labels, args.batch), short), "phase_fold": fold}
    torch.set_default_dtype(torch.float32)
    authors32, ours32 = sides(conf, layout, torch.float32, wsbench)
    rates = {"authors": samples_per_second(authors32.train_step, weights, labels, args.batch),
             "wsbench": samples_per_second(ours32.train_step, weights, labels, args.batch)}
    configuration = {"file": CONFIG, "layer_layout": list(layout.widths),
                     "scalegmn_args": conf["scalegmn_args"], "optimization": conf["optimization"],
                     "num_epochs": conf["train_args"]["num_epochs"], "batch_size": conf["batch_size"],
                     "dropout_in_config": published, "loss_check_also_with_warmup_steps": SHORT_WARMUP}
    report("scalegmn", args, source, configuration, result, rates, adapter_version=wsbench.cls.version,
           adapter_params={"network": "authors", "input_scale": "raw"})  # input_scale=std is wsbench's


if __name__ == "__main__":
    main()
