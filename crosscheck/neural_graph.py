"""Neural graphs (Kofinas et al., ICLR 2024), PNA on MNIST INRs: the authors' GNNForClassification,
built by hydra from their experiments/inr_classification configuration (model=pna, data=mnist and
the overrides of their scripts/mnist_cls_pna.sh, dropout and augmentation off) against
wsbench.models.neural_graph_pna.NeuralGraphPNA with the authors' parameters.

Their normalisation (data config's per-layer statistics) runs inside their graph constructor;
wsbench's side spreads the same statistics over the parameters and applies the zoo methods'
normaliser. Two import shims let their code load under this environment without changing what it
computes: torch-geometric 2.8 renamed utils.trim_to_layer to utils._trim_to_layer (TrimToLayer
is unused without neighbour sampling), and rff imports torchvision for an image loader they never
call. Their WarmupLRScheduler passes `verbose`, which torch 2.13's LRScheduler no longer takes:
the check builds it without that argument, its get_lr (the schedule) untouched.
"""
from __future__ import annotations

import importlib
import sys
import types

import torch

from crosscheck.common import (Side, arguments, checkout, compare, report, samples_per_second, stand_in,
                               without_verbose, wsbench_inrs)
from wsbench.inr.siren import SirenLayout
from wsbench.models.neural_graph_pna import NeuralGraphPNA, broadcast_layer_statistics
from wsbench.train.optim import Optimisation
from wsbench.zoo.method import ZooMethod

CONFIG_DIR = "experiments/inr_classification/configs"
# scripts/mnist_cls_pna.sh, less its `model.modulate_v=True` (GNNForClassification takes no such
# argument; PNA's modulation is model.gnn_backbone.modulate_edges=True in configs/model/pna.yaml),
# with dropout 0.2 -> 0 and the training INRs' augmentation off, as the check requires.
OVERRIDES = ["model=pna", "data=mnist", "n_epochs=200", "model.graph_constructor.num_probe_features=0",
             "model.gnn_backbone.dropout=0.0", "model.graph_constructor.use_pos_embed=True",
             "model.rev_edge_features=True", "data.train.augmentation=False"]
SEED = 0


def load_authors(path):
    """Their config, their classes; the two import shims described above."""
    sys.modules.setdefault("torch_geometric.utils.trim_to_layer",
                           importlib.import_module("torch_geometric.utils._trim_to_layer"))
    stand_in("torchvision")
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(path.resolve() / CONFIG_DIR), version_base=None):
        return compose("base", overrides=OVERRIDES)


def renamed(key: str) -> str | None:
    """The authors' parameter name -> wsbench's (None: a constant wsbench computes itself)."""
    if key.endswith(("avg_deg_lin", "avg_deg_log")):
        return None
    for theirs, ours in (("construct_graph.proj_weight.0.b", "weight_features.frequencies"),
                         ("construct_graph.proj_weight.1.", "weight_in."),
                         ("construct_graph.proj_bias.0.b", "bias_features.frequencies"),
                         ("construct_graph.proj_bias.1.", "bias_in."),
                         ("construct_graph.proj_node_in.", "node_in."), ("construct_graph.proj_edge_in.", "edge_in."),
                         ("construct_graph.pos_embed", "pos_embed"), ("proj_out.", "head."),
                         ("gnn.convs.", "convs."), ("gnn.norms.", "norms."), ("gnn.edge_update.", "edge_updates."),
                         (".pre_nns.0.0.", ".pre."), (".post_nns.0.0.", ".post.")):
        key = key.replace(theirs, ours)
    return key


def converted(authors_model: torch.nn.Module, ours: NeuralGraphPNA) -> NeuralGraphPNA:
    state = {renamed(k): v for k, v in authors_model.state_dict().items() if renamed(k) is not None}
    ours.load_state_dict(state, strict=True)
    return ours


def as_authors_batch(layout: SirenLayout, flat: torch.Tensor):
    """wsbench's flat rows -> their (weights, biases): W^T (B, in, out, 1), b (B, out, 1)."""
    layers = layout.unflatten(flat)
    return tuple(w.transpose(1, 2)[..., None] for w, _ in layers), tuple(b[..., None] for _, b in layers)


def sides(cfg, layout: SirenLayout, dtype: torch.dtype) -> tuple[Side, Side, dict]:
    from hydra.utils import instantiate
    from experiments.lr_scheduler import WarmupLRScheduler
    Warmup = without_verbose(WarmupLRScheduler)

    torch.manual_seed(SEED)
    theirs = instantiate(cfg.model, layer_layout=list(layout.widths)).to(dtype).train()
    ours = NeuralGraphPNA(layout, cfg.data.num_classes, hidden=cfg.model.d_hid,
                          layers=cfg.model.gnn_backbone.num_layers, dropout=cfg.model.gnn_backbone.dropout,
                          fourier_features=cfg.model.graph_constructor.sin_emb_dim,
                          fourier_scale=cfg.model.graph_constructor.inp_factor).to(dtype)
    ours = converted(theirs, ours).train()
    constants = {"avg_log_degree_authors": theirs.gnn.convs[0].aggr_module.avg_deg_log.item(),
                 "avg_log_degree_wsbench": ours.convs[0].avg_log_degree}

    parameters = [p for p in theirs.parameters() if p.requires_grad]
    optimizer = instantiate(cfg.optim, params=parameters)
    scheduler = Warmup(optimizer, cfg.scheduler.warmup_steps)
    criterion = torch.nn.CrossEntropyLoss()

    def authors_logits(flat):
        return theirs(as_authors_batch(layout, flat))

    def authors_step(flat, y):
        loss = criterion(authors_logits(flat), y)
        loss.backward()
        if cfg.clip_grad:
            torch.nn.utils.clip_grad_norm_(parameters, cfg.clip_grad_max_norm)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        return loss.item()

    s = cfg.data.stats
    stats = broadcast_layer_statistics(layout, s.weights_mean, s.weights_std, s.biases_mean, s.biases_std)
    normalise = ZooMethod.normaliser(types.SimpleNamespace(centre=ZooMethod.centre), stats.to(dtype),
                                     torch.device("cpu"), {})
    optimiser = Optimisation(cfg.optim.lr, cfg.optim.weight_decay, optimiser="adamw", amsgrad=cfg.optim.amsgrad,
                             schedule="warmup", warmup_steps=cfg.scheduler.warmup_steps, warmup_start=1,
                             clip_norm=cfg.clip_grad_max_norm if cfg.clip_grad else 0.0).build(ours, cfg.n_epochs)

    def wsbench_logits(flat):
        return ours(normalise(flat))

    def wsbench_step(flat, y):
        return optimiser.step(wsbench_logits(flat), y).item()

    return Side(authors_logits, authors_step), Side(wsbench_logits, wsbench_step), constants


def main() -> None:
    args = arguments("neural-graph", __doc__.splitlines()[0])
    source = checkout(args.authors)
    cfg = load_authors(args.authors)
    from omegaconf import OmegaConf
    layout, weights, labels = wsbench_inrs(max(64, args.batch))
    torch.set_default_dtype(torch.float64)  # their graph constructor allocates its tensors in the default dtype
    authors, ours, constants = sides(cfg, layout, torch.float64)
    result = compare(authors, ours, weights, labels, args.batch)
    torch.set_default_dtype(torch.float32)
    authors32, ours32, _ = sides(cfg, layout, torch.float32)
    rates = {"authors": samples_per_second(authors32.train_step, weights, labels, args.batch),
             "wsbench": samples_per_second(ours32.train_step, weights, labels, args.batch)}
    configuration = {"files": ["experiments/inr_classification/configs/base.yaml",
                               "experiments/inr_classification/configs/model/pna.yaml",
                               "experiments/inr_classification/configs/data/mnist.yaml",
                               "experiments/inr_classification/scripts/mnist_cls_pna.sh"],
                     "overrides": OVERRIDES, "layer_layout": list(layout.widths),
                     "left_out": {"model.modulate_v=True": "no argument of GNNForClassification (hydra refuses it); "
                                                           "PNA modulates by gnn_backbone.modulate_edges=True",
                                  "model.gnn_backbone.dropout=0.2": "0 for the check",
                                  "data.train.augmentation=True": "off for the check"},
                     "model": OmegaConf.to_container(cfg.model, resolve=True),
                     "optim": OmegaConf.to_container(cfg.optim, resolve=True),
                     "scheduler": OmegaConf.to_container(cfg.scheduler, resolve=True),
                     "clip_grad_max_norm": cfg.clip_grad_max_norm if cfg.clip_grad else None,
                     "n_epochs": cfg.n_epochs, "batch_size": cfg.batch_size, **constants}
    configuration["model"]["graph_constructor"].pop("inr_model", None)  # probe features off: unused
    report("neural-graph", args, source, configuration, result, rates)


if __name__ == "__main__":
    main()
