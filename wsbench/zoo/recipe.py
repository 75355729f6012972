"""The zoo recipe: one parameter table, the same names for the `zoo` command's --zoo-param
and for the zoo methods' parameters, so that a recipe names one zoo wherever it is written."""
from __future__ import annotations

from typing import Any

from wsbench.core.contracts import DataSplits, Param
from wsbench.core.errors import UserError
from wsbench.core.params import parse_widths
from wsbench.data.fields import siren_layout
from wsbench.inr.siren import INIT_SCHEMES
from wsbench.zoo.store import INITS, ZooSpec

RECIPE = {
    "inr_hidden": Param("32,32", "hidden widths of every INR's SIREN (DWSNet: 32,32)", widths=True),
    "inr_w0": Param(30.0, "SIREN frequency of every INR", above=0),
    "inr_steps": Param(1000, "Adam steps per INR at most", low=1),
    "inr_lr": Param(5e-4, "Adam learning rate of the INR fits", above=0),
    "inr_psnr_stop": Param(40.0, "stop fitting an INR at this PSNR in dB (0: never)", low=0),
    "inr_offset": Param(0.0, "added to every INR output (DWSNet's quirk: 0.5)"),
    "inr_init": Param("independent", "random initialisation per INR, or one shared by all", choices=INITS),
    "inr_init_scheme": Param("siren", "siren: Sitzmann's init; dwsnet: the init of DWSNet's INR set "
                                      "(low first-layer frequencies, zero biases)", choices=INIT_SCHEMES),
    "inr_views": Param(1, "INRs per training sample, each from its own initialisation (val and test: one)", low=1),
    "inr_train_limit": Param(0, "fit (and train on) only the first N training samples (0: all); "
                                "val and test are always complete", low=0),
    "inr_queries": Param(0, "queries (pixels or UDF points) per fitting step, the next of a fixed random "
                            "order each step (0: all of them)", low=0),
    "inr_seed": Param(0, "seed of the INR initialisations; the zoo is shared by all run seeds "
                         "(-1: the run seed, a zoo per seed)", low=-1),
    "inr_compile": Param(False, "fit with the loss and its gradient compiled by torch.compile (about 2x on a "
                                "CPU; needs a C++ compiler there; not bit-identical, so another zoo)",
                         legacy=False),
}

# The INR set the published DWSNet/NFN/NG numbers were measured on (init, +0.5
# output offset); on standard SIRENs these classifiers barely learn (docs/zoo.md).
DWSNET_SET = {"inr_init_scheme": "dwsnet", "inr_offset": 0.5}
# Quick profile of every zoo method, so that they share one zoo: 400 steps (DWSNet's
# recipe has 1,000) on the first 20,000 training images, to fit a CPU hour; chosen on
# test in an earlier version and re-tuned on validation (docs/notebook.md).
QUICK_ZOO = {**DWSNET_SET, "inr_steps": 400, "inr_train_limit": 20000}
# The quick zoo of shapes (SIREN 3-32-32-1 on unsigned distances, L1): 200 steps on 512 of
# each shape's 4,000 queries (sized to about 12 CPU-minutes a zoo, not tuned), every training
# shape, no early stop (a PSNR of distances means nothing) and no output offset; the
# initialisation was chosen on validation (docs/notebook.md).
QUICK_UDF_ZOO = {"inr_steps": 200, "inr_queries": 512, "inr_psnr_stop": 0, "inr_offset": 0.0,
                 "inr_train_limit": 0, "inr_init": "shared", "inr_init_scheme": "siren"}


def zoo_specs(data: DataSplits, recipe: dict[str, Any], run_seed: int | None) -> dict[str, ZooSpec]:
    """The train, val and test zoos of a recipe (RECIPE's keys) on this data; inr_seed=-1
    takes the run seed. Views and the train limit shape the train zoo only."""
    seed = recipe["inr_seed"]
    if seed == -1:
        if run_seed is None:
            raise UserError("inr_seed=-1 (a zoo per run seed) applies to runs; give the zoo an explicit inr_seed")
        seed = run_seed
    layout = siren_layout(data, parse_widths(recipe["inr_hidden"]), recipe["inr_w0"])
    common = dict(widths=layout.widths, inr_w0=recipe["inr_w0"], inr_steps=recipe["inr_steps"],
                  inr_lr=recipe["inr_lr"], inr_psnr_stop=recipe["inr_psnr_stop"] or None,
                  inr_offset=recipe["inr_offset"], inr_init=recipe["inr_init"],
                  inr_init_scheme=recipe["inr_init_scheme"], inr_queries=recipe["inr_queries"], inr_seed=seed,
                  inr_compile=recipe["inr_compile"])
    return {"train": ZooSpec(data.name, data.checksums, "train", inr_views=recipe["inr_views"],
                             inr_train_limit=recipe["inr_train_limit"], **common),
            "val": ZooSpec(data.name, data.checksums, "val", **common),
            "test": ZooSpec(data.name, data.checksums, "test", **common)}
