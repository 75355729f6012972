"""Neural graphs (Kofinas et al., ICLR 2024), PNA on MNIST INRs: the authors' GNNForClassification,
built by hydra from their experiments/inr_classification configuration (model=pna, data=mnist and
the overrides of their scripts/mnist_cls_pna.sh, dropout and augmentation off) against wsbench's
neural-graph plugin at its paper profile (network=authors): its network, input preprocessing and
optimiser as runs build them. The check stops where that profile departs from the published
configuration. Their augmentation of training INRs (experiments/data.py, INRDataset._augment)
is compared apart: on each INR, their function and wsbench's kofinas augmentation given the same
random draws, replayed from one seed in the order theirs draws them.

Their normalisation (data config's per-layer statistics) runs inside their graph constructor;
wsbench's side spreads the same statistics over the parameters and applies the plugin's
normaliser. Two import shims let their code load under this environment without changing what it
computes: torch-geometric 2.8 renamed utils.trim_to_layer to utils._trim_to_layer (TrimToLayer
is unused without neighbour sampling), and rff imports torchvision for an image loader they never
call. Their WarmupLRScheduler passes `verbose`, which torch 2.13's LRScheduler no longer takes:
the check builds it without that argument, its get_lr (the schedule) untouched.
"""
from __future__ import annotations

import copy
import importlib
import inspect
import random
import sys

import torch

from crosscheck.common import (SHORT_WARMUP, Side, arguments, checkout, compare, profile_mismatches, registry,
                               report, samples_per_second, stand_in, with_short_warmup, without_verbose,
                               wsbench_inrs)
from wsbench.core.params import resolve
from wsbench.inr.siren import SirenLayout
from wsbench.models import kofinas_augment as augmentation
from wsbench.models.neural_graph_pna import NeuralGraphPNA, broadcast_layer_statistics

CONFIG_DIR = "experiments/inr_classification/configs"
# scripts/mnist_cls_pna.sh, less its `model.modulate_v=True` (GNNForClassification takes no such
# argument; PNA's modulation is model.gnn_backbone.modulate_edges=True in configs/model/pna.yaml).
PUBLISHED = ["model=pna", "data=mnist", "n_epochs=200", "model.graph_constructor.num_probe_features=0",
             "model.gnn_backbone.dropout=0.2", "model.graph_constructor.use_pos_embed=True",
             "model.rev_edge_features=True"]
# The same with dropout off and the training INRs' augmentation off, as the check requires.
CHECKED = [*PUBLISHED[:4], "model.gnn_backbone.dropout=0.0", *PUBLISHED[5:], "data.train.augmentation=False"]
SEED = 0
AUGMENTED_INRS = 16
AUGMENTATION_ATOL = 1e-12


def load_authors(path, overrides: list[str]):
    """Their config, their classes; the two import shims described above."""
    sys.modules.setdefault("torch_geometric.utils.trim_to_layer",
                           importlib.import_module("torch_geometric.utils._trim_to_layer"))
    stand_in("torchvision")
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(path.resolve() / CONFIG_DIR), version_base=None):
        return compose("base", overrides=overrides)


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


def plugin_params(published) -> dict:
    """The plugin's paper profile (dropout off for the check), after checking that it is the
    published configuration."""
    model, constructor = published.model, published.model.graph_constructor
    theirs = {"network": "authors", "hidden": model.d_hid, "layers": model.gnn_backbone.num_layers,
              "dropout": model.gnn_backbone.dropout, "fourier": constructor.sin_emb_dim,
              "fourier_scale": float(constructor.inp_factor), "epochs": published.n_epochs,
              "batch_size": published.batch_size, "lr": published.optim.lr,
              "weight_decay": published.optim.weight_decay, "amsgrad": published.optim.amsgrad,
              "warmup_steps": published.scheduler.warmup_steps,
              "clip_norm": published.clip_grad_max_norm if published.clip_grad else 0.0,
              "augment": "kofinas" if published.data.train.augmentation else "none"}
    cls = registry().method("neural-graph")
    if mismatches := profile_mismatches(resolve(cls, {}, "paper"), theirs):
        sys.exit(f"neural-graph's paper profile is not the authors' configuration: {'; '.join(mismatches)}")
    return resolve(cls, {"dropout": "0"}, "paper")


def sides(cfg, params: dict, layout: SirenLayout, dtype: torch.dtype,
          warmup: int | None = None) -> tuple[Side, Side, dict]:
    """Both models from the same parameters, each with its own optimisation; `warmup`: both
    sides' warm-up steps in place of the configuration's."""
    from hydra.utils import instantiate
    from experiments.lr_scheduler import WarmupLRScheduler
    Warmup = without_verbose(WarmupLRScheduler)
    if warmup is not None:
        cfg = copy.deepcopy(cfg)
        cfg.scheduler.warmup_steps = warmup
        params = {**params, "warmup_steps": warmup}

    torch.manual_seed(SEED)
    theirs = instantiate(cfg.model, layer_layout=list(layout.widths)).to(dtype).train()
    plugin = registry().method("neural-graph")()
    ours = plugin.build(layout, cfg.data.num_classes, params).to(dtype)
    assert isinstance(ours, NeuralGraphPNA)
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

    s = cfg.data.stats  # the zoo statistics of their configuration, in place of a wsbench zoo's
    stats = broadcast_layer_statistics(layout, s.weights_mean, s.weights_std, s.biases_mean, s.biases_std)
    normalise = plugin.normaliser(stats.to(dtype), torch.device("cpu"), params)
    optimiser = plugin.optimisation(params).build(ours, params["epochs"])

    def wsbench_logits(flat):
        return ours(normalise(flat))

    def wsbench_step(flat, y):
        return optimiser.step(wsbench_logits(flat), y).item()

    return Side(authors_logits, authors_step), Side(wsbench_logits, wsbench_step), constants


def replayed_draws(layout: SirenLayout, weights: tuple, biases: tuple, settings) -> augmentation.KofinasDraws:
    """The draws their _augment takes from the global generators for one INR (their (in, out)
    weights, transposed views of the state dict's as their loader gives them), drawn again in
    their order: translation, layer, angle, dropout masks (weights first, then biases), scale.
    F.dropout fills its mask in its input's memory order: the rotated first matrix is a fresh
    (in, out) tensor, the other matrices keep the transposed layout."""
    translation = torch.empty(weights[0].shape[0]).uniform_(-settings.translation_scale, settings.translation_scale)
    order = random.sample(range(1, len(weights)), 1)[0]
    rotated = weights[0].shape[0] == 2
    angle = torch.empty(1).uniform_(-settings.rotation_degree, settings.rotation_degree) if rotated else torch.zeros(1)
    layouts = [torch.empty(w.shape, dtype=w.dtype) if k == 0 and rotated else w for k, w in enumerate(weights)]
    keep_w = [torch.empty_like(w).bernoulli_(1 - settings.drop_rate).bool().T for w in layouts]
    keep_b = [torch.empty_like(b).bernoulli_(1 - settings.drop_rate).bool() for b in biases]
    scale = 1 + (torch.rand(1).item() - 0.5) * 2 * settings.resize_scale
    return augmentation.KofinasDraws(translation[None], torch.tensor([order]), angle,
                                     [m[None] for w, b in zip(keep_w, keep_b) for m in (w, b)], torch.tensor([scale]))


def compare_augmentation(layout: SirenLayout, flat: torch.Tensor) -> dict:
    """Their INRDataset._augment and wsbench's kofinas augmentation on the same INRs and draws
    (float64): the largest difference of the augmented weights; their default settings must be
    wsbench's constants."""
    from experiments.data import INRDataset
    defaults = {k: v.default for k, v in inspect.signature(INRDataset.__init__).parameters.items()
                if v.default is not inspect.Parameter.empty}
    settings = type("Settings", (), {**defaults, "rotation_mat": staticmethod(INRDataset.rotation_mat)})()
    ours_constants = {"translation_scale": augmentation.TRANSLATION, "rotation_degree": augmentation.DEGREES,
                      "noise_scale": augmentation.NOISE, "drop_rate": augmentation.DROP,
                      "resize_scale": augmentation.RESIZE, "pos_scale": 0.0, "quantile_dropout": 0.0}
    if mismatches := profile_mismatches(ours_constants, {k: defaults[k] for k in ours_constants}):
        sys.exit(f"wsbench's kofinas augmentation departs from their INRDataset's defaults: {'; '.join(mismatches)}")
    worst = 0.0
    for n in range(len(flat)):
        layers = layout.unflatten(flat[n:n + 1])
        weights = tuple(w[0].T.clone() for w, _ in layers)
        biases = tuple(b[0].clone() for _, b in layers)
        torch.manual_seed(SEED + n)
        random.seed(SEED + n)
        their_w, their_b = INRDataset._augment(settings, weights, biases)
        torch.manual_seed(SEED + n)
        random.seed(SEED + n)
        draws = replayed_draws(layout, weights, biases, settings)
        theirs = torch.cat([t.flatten() for w, b in zip(their_w, their_b) for t in (w.T, b)])
        ours = augmentation.kofinas_augment(layout, flat[n:n + 1], draws)[0]
        worst = max(worst, (theirs - ours).abs().max().item())
    return {"inrs": len(flat), "max_difference": worst, "tolerance": AUGMENTATION_ATOL,
            "equal": worst <= AUGMENTATION_ATOL, "settings": ours_constants}


def main() -> None:
    args = arguments("neural-graph", __doc__.splitlines()[0])
    source = checkout(args.authors)
    published = load_authors(args.authors, PUBLISHED)
    params = plugin_params(published)
    cfg = load_authors(args.authors, CHECKED)
    from omegaconf import OmegaConf
    layout, weights, labels = wsbench_inrs(max(64, args.batch))
    torch.set_default_dtype(torch.float64)  # their graph constructor allocates its tensors in the default dtype
    authors, ours, constants = sides(cfg, params, layout, torch.float64)
    short = compare(*sides(cfg, params, layout, torch.float64, SHORT_WARMUP)[:2], weights, labels, args.batch)
    result = with_short_warmup(compare(authors, ours, weights, labels, args.batch), short)
    result["augmentation"] = compare_augmentation(layout, weights[:AUGMENTED_INRS])
    torch.set_default_dtype(torch.float32)
    authors32, ours32, _ = sides(cfg, params, layout, torch.float32)
    rates = {"authors": samples_per_second(authors32.train_step, weights, labels, args.batch),
             "wsbench": samples_per_second(ours32.train_step, weights, labels, args.batch)}
    configuration = {"files": ["experiments/inr_classification/configs/base.yaml",
                               "experiments/inr_classification/configs/model/pna.yaml",
                               "experiments/inr_classification/configs/data/mnist.yaml",
                               "experiments/inr_classification/scripts/mnist_cls_pna.sh",
                               "experiments/data.py (INRDataset._augment)"],
                     "overrides": PUBLISHED, "checked_with": CHECKED, "layer_layout": list(layout.widths),
                     "left_out": {"model.modulate_v=True": "no argument of GNNForClassification (hydra refuses it); "
                                                           "PNA modulates by gnn_backbone.modulate_edges=True",
                                  "model.gnn_backbone.dropout=0.2": "0 for the check",
                                  "data.train.augmentation=True": "off for the training steps, compared apart"},
                     "model": OmegaConf.to_container(cfg.model, resolve=True),
                     "optim": OmegaConf.to_container(cfg.optim, resolve=True),
                     "scheduler": OmegaConf.to_container(cfg.scheduler, resolve=True),
                     "clip_grad_max_norm": cfg.clip_grad_max_norm if cfg.clip_grad else None,
                     "n_epochs": cfg.n_epochs, "batch_size": cfg.batch_size,
                     "loss_check_also_with_warmup_steps": SHORT_WARMUP, **constants}
    configuration["model"]["graph_constructor"].pop("inr_model", None)  # probe features off: unused
    report("neural-graph", args, source, configuration, result, rates,
           adapter_version=registry().method("neural-graph").version, adapter_params={"network": "authors"})


if __name__ == "__main__":
    main()
