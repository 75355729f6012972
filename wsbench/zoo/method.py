"""Two-stage weight-space methods: fit an INR zoo, then classify the INRs' weights.

Every adapter of this family (dwsnet, nfn, neural-graph, scalegmn, flat-mlp) declares
only its classifier; the zoo recipe and its quick profiles, the weight normalisation,
augmentation and the training loop live here, so the adapters differ in nothing but the
network. The zoo is the run's shared work: a sweep fits it once, in a stage before the runs.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import nn

from wsbench.core.context import RunContext
from wsbench.core.contracts import DataSplits, HeadResult, Method, MethodOutput, Param, Reconstruction
from wsbench.core.timing import Clock
from wsbench.inr.siren import SirenLayout
from wsbench.models.kofinas_augment import KofinasDraws, kofinas_augment
from wsbench.models.symmetry import affine_augment, permute_hidden
from wsbench.train.compiled import compile_module
from wsbench.train.heads import train_classifier
from wsbench.train.optim import Optimisation
from wsbench.train.precision import precision_param
from wsbench.zoo.recipe import DWSNET_SET, QUICK_UDF_ZOO, QUICK_ZOO, RECIPE, zoo_specs
from wsbench.zoo.store import Zoo

AUGMENTATIONS = ("none", "permute", "affine", "permute+affine", "kofinas")

TRAIN_PARAMS = {
    "epochs": Param(50, "classifier training epochs", low=1),
    "batch_size": Param(64, "INRs per classifier step", low=1),
    "lr": Param(1e-3, "AdamW learning rate (cosine schedule)", above=0),
    "weight_decay": Param(5e-4, "AdamW weight decay", low=0),
    "augment": Param("none", "weight-space augmentation of training INRs: hidden-neuron permutations, "
                             "and/or a random rotation, scaling and shift of the input coordinates "
                             "(folded into the first layer); kofinas: the neural graphs' authors' translation, rotation, "
                             "shift, dropout and scaling of the weights", choices=AUGMENTATIONS),
    "precision": precision_param("fp32"),
    "compile": Param(False, "compile the classifier with torch.compile (fuses its elementwise chains, and with "
                            "precision=bf16 the casts between them; not bit-identical; needs a C++ compiler on a CPU)",
                     legacy=False),
}


class ZooMethod(Method):
    """A classifier of independently fitted INRs; subclasses build the network.

    A subclass declares its network's parameters in `model_params` (or `params`) and its
    profiles as overrides of the zoo's: every quick run fits the quick zoo (on point clouds
    the quick UDF zoo) unless the subclass's own `quick` (`quick@pointcloud`) says otherwise.
    """

    modalities = ("image", "pointcloud")
    params = {**RECIPE, **TRAIN_PARAMS}
    model_params: ClassVar[dict[str, Param]] = {}
    profiles = {"quick": QUICK_ZOO, "quick@pointcloud": QUICK_UDF_ZOO}
    # The zoo recipe of the published DWSNet/NFN/NG numbers, for subclasses' paper profiles.
    DWSNET_SET: ClassVar[dict[str, Any]] = DWSNET_SET
    # Standardise each weight tensor by its mean and std over the training zoo; without
    # centring (False) only the scaling is applied, which keeps a sign flip a sign flip:
    # -w / std = -(w / std), whereas (-w - mean) / std is not -((w - mean) / std).
    centre: ClassVar[bool] = True
    # With `network=authors`: whether the authors' network reads the weights standardised as
    # above (the neural graphs' graph constructor does so itself) or raw (NFN, ScaleGMN).
    authors_standardise: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        """Merge, never replace: a subclass's `model_params` and `params` add to the parameters
        it inherits, its `profiles` to the inherited profiles of the same names (its own
        entries win either way)."""
        parent = next(c for c in cls.__mro__[1:] if issubclass(c, ZooMethod))
        own = cls.__dict__.get("profiles", {})
        cls.params = {**parent.params, **cls.model_params, **cls.__dict__.get("params", {})}
        cls.profiles = {name: {**parent.profiles.get(name, {}), **own.get(name, {})}
                        for name in {**parent.profiles, **own}}
        super().__init_subclass__(**kwargs)  # checks the merged parameters
        network = cls.params.get("network")
        if network is not None and "authors" in (network.choices or ()) and \
                cls.authors_optimisation is ZooMethod.authors_optimisation:
            raise TypeError(f"{cls.__name__} offers network=authors but does not say how the authors train it: "
                            f"define authors_optimisation")

    @abstractmethod
    def build(self, layout: SirenLayout, num_classes: int, params: dict[str, Any]) -> nn.Module:
        """The classifier of flat, normalised weights (B, P) -> logits."""

    def shared_work(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """The zoo recipe, its seed resolved: runs of any zoo method with the same recipe share one zoo."""
        recipe = {key: params[key] for key in RECIPE}
        if recipe["inr_seed"] == -1:
            recipe["inr_seed"] = seed
        return {"inr zoo": recipe}

    def zoos(self, data: DataSplits, work: dict[str, Any], ctx: RunContext) -> dict[str, Zoo]:
        return {part: Zoo(spec, ctx.data_root, getattr(data, part), data.modality)
                for part, spec in zoo_specs(data, work["inr zoo"], None).items()}

    shared_work_splits = True

    def do_shared_work(self, data: DataSplits, work: dict[str, Any], ctx: RunContext,
                       piece: int = 0, pieces: int = 1) -> None:
        """Fit the missing shards of the zoos' every `pieces`-th shard from the `piece`-th on
        (counted over the train, val and test zoos in turn): the jobs of one stage share
        the shards out without overlap."""
        count = 0
        for part, zoo in self.zoos(data, work, ctx).items():
            self.fit_missing(part, zoo, ctx, [k for k in range(zoo.num_shards) if (count + k) % pieces == piece])
            count += zoo.num_shards

    @staticmethod
    def fit_missing(part: str, zoo: Zoo, ctx: RunContext, shards: list[int] | None = None) -> dict[str, float]:
        """Fit the zoo's missing shards (of `shards`, default all of them); the time this took here."""
        clock = Clock()
        todo = zoo.missing() if shards is None else [k for k in shards if not zoo.shard_ok(k)]
        if todo:
            ctx.log(f"fitting {len(todo)} of the {zoo.num_shards} shards of the {part} zoo {zoo.spec.zoo_id} "
                    f"({len(zoo.items)} INRs) in {zoo.folder}")
            zoo.fit(todo, device=ctx.device, progress=lambda it, **kw: ctx.progress(it, **kw))
        return clock.elapsed()

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        zoos = self.zoos(data, self.shared_work(params, ctx.seed), ctx)
        with ctx.stage("fit_zoo"):
            here = {part: self.fit_missing(part, zoo, ctx) for part, zoo in zoos.items()}
        loaded = {part: zoo.load() for part, zoo in zoos.items()}
        for part, zoo in zoos.items():  # what the zoo cost whoever fitted it, now that load() verified it
            ctx.shared_cost(f"zoo {part} {zoo.spec.zoo_id}", zoo.cost(), here[part])
        layout = zoos["train"].spec.layout
        stats = torch.from_numpy(zoos["train"].statistics(loaded["train"]["weights"]))
        raw = {part: torch.from_numpy(z["weights"]) for part, z in loaded.items()}
        y_train = data.train.y[torch.from_numpy(loaded["train"]["sample"])]
        for part in ("val", "test"):  # one view each, in sample order
            assert np.array_equal(loaded[part]["sample"], np.arange(len(getattr(data, part))))
        model = self.build(layout, data.num_classes, params).to(ctx.device)
        if params["compile"]:
            compile_module(model, ctx.device)
        with ctx.stage("train_classifier"):
            head = self.train(model, layout, stats, raw, y_train, params, ctx)
        return MethodOutput(heads={"weights": head}, metrics={"train_inrs": float(len(y_train))},
                            num_params={"classifier": head.num_params},
                            reconstruction=Reconstruction(layout, raw["test"], zoos["test"].spec.inr_offset))

    def train(self, model: nn.Module, layout: SirenLayout, stats: torch.Tensor, raw: dict[str, torch.Tensor],
              y_train: torch.Tensor, p: dict[str, Any], ctx: RunContext) -> HeadResult:
        """Weights standardised by the training zoo's statistics (augmentations act on the
        raw weights first), trained by the shared classifier loop."""
        normalise = self.normaliser(stats, ctx.device, p)
        return train_classifier(
            model, lambda idx, gen: normalise(self.augment(layout, raw["train"][idx], p["augment"], gen)),
            y_train, normalise(raw["val"]), normalise(raw["test"]), ctx, epochs=p["epochs"],
            optimisation=self.optimisation(p), batch_size=p["batch_size"], name="classifier",
            desc=f"{self.name} epochs", precision=p["precision"])

    # An adapter that also offers its authors' network declares a parameter `network` with the
    # value "authors" for it: those runs read raw weights and train by `authors_optimisation`.
    def optimisation(self, p: dict[str, Any]) -> Optimisation:
        """AdamW with a cosine schedule, or the authors' recipe with `network=authors`."""
        if p.get("network") == "authors":
            return self.authors_optimisation(p)
        return Optimisation(p["lr"], p["weight_decay"])

    def authors_optimisation(self, p: dict[str, Any]) -> Optimisation:
        """How the authors train their network: every adapter that offers `network=authors`
        defines it (checked when its class is made)."""
        raise NotImplementedError(f"{self.name}: network=authors needs authors_optimisation")

    def normaliser(self, stats: torch.Tensor, device: torch.device,
                   params: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:
        """Raw weights (B, P) -> the classifier's input, from the training zoo's statistics (2, P);
        with `network=authors`, raw unless `authors_standardise`."""
        if params.get("network") == "authors" and not self.authors_standardise:
            return lambda w: w.to(device)
        mean = stats[0].to(device) if self.centre else torch.zeros_like(stats[0], device=device)
        std = stats[1].to(device)
        return lambda w: (w.to(device) - mean) / std

    @staticmethod
    def augment(layout: SirenLayout, raw: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
        """The raw weights of a batch, augmented as `kind` says."""
        if kind == "kofinas":
            return kofinas_augment(layout, raw, KofinasDraws.draw(layout, len(raw), gen))
        if "affine" in kind:
            raw = affine_augment(layout, raw, gen)
        if "permute" in kind:
            raw = permute_hidden(layout, raw, gen)
        return raw
