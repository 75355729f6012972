"""Template of a method adapter: copy this file to methods/<your_method>.py of your project
folder (the working directory, or `wsbench --project DIR`) and edit it.

Import everything of wsbench from `wsbench.api` alone, the stable plugin API (networks
included); the package behind it (core/, data/, inr/, models/, train/, zoo/, ...) may move.
Keep your tuning constants in this file. Files named template_*.py are not listed. The harness gives `run` fixed train/val/test splits and a RunContext
(device, seed, progress bars, stage timing); only the training split has labels
(`data.train.y`): reading `data.val.y` or `data.test.y` raises and fails the run.
`run` returns, for every classifier head, the predicted labels on val and test after
each epoch (1-D integer arrays, one class index per sample, in split order). The
harness checks them, picks the epoch with the best validation accuracy, scores test
accuracy there and writes the run record: do not compute metrics or select epochs in
the method. A method that represents samples as INRs also returns
`reconstruction=Reconstruction(layout, test_weights)`, which the harness scores.

Long stages resume through `Loop` (an epoch or step at a time, its state checkpointed
and restored by the loop) and `stage_result` (a stage's result kept once computed);
`train_feature_head` below already trains through the loop. A method whose runs share
expensive work (an INR zoo) describes it in `shared_work` so that a sweep does it once.

What `run` gets and returns (all from wsbench.api; docs/adding-a-method.md's "The plugin contract" has
the full table and a complete example):
- data: DataSplits with name, modality ("image" or "pointcloud"), num_classes, train
  (a Split), val and test (HeldOutSplit), checksums.
- Split: x float32, images (N, H, W, C) in [0, 1] or point clouds (N, P, 3) in the unit
  ball; y int64 (N,) in [0, num_classes); point clouds also coords (N, Q, 3) and values
  (N, Q, 1), their UDF queries. HeldOutSplit: name, x, coords, values (its y raises).
- ctx: RunContext with device, seed (Python, NumPy and torch are seeded with it), progress,
  stage, log, data_root.
- params: every declared Param(default, help, choices, low, high, above, widths), resolved
  and checked.
- return MethodOutput(heads={name: HeadResult(val_pred, test_pred, num_params)}, metrics,
  num_params, reconstruction=Reconstruction(layout, test_weights, offset) or None); each
  HeadResult list has one prediction array per epoch, and the record's best_epoch counts
  from 1.
- embeddings: HeadResult(..., embeddings={"val": (N_val, D), "test": (N_test, D)}), one
  vector per sample (train_feature_head and train_classifier fill them); the harness keeps
  them, draws their PCA and compares methods with them (wsbench similarity).

`version` is part of every run's identity. Bump it whenever a change alters what
the method computes (its predictions), so old records are neither reused nor
averaged with new ones, then run `pytest tests/test_contract.py
--update-fingerprints` and commit tests/fingerprints.json: the contract test
fails when a method's smoke-profile predictions change while its version stays.

Every random draw must come from torch/numpy/random after the harness seeded
them (or from a generator seeded with ctx.seed), so a seed reproduces a run.
"""
from __future__ import annotations

from wsbench.api import DataSplits, Method, MethodOutput, Param, RunContext, train_feature_head


class TemplateMethod(Method):
    name = "template"  # what users type after --method
    version = 1  # bump when the predictions change
    description = "raw pixels into an MLP head (an example, not a weight-space method)"
    modalities = ("image",)
    # Declared parameters: `--param key=value` is parsed to the default's type.
    params = {
        "head_hidden": Param("256", "hidden widths of the MLP head", widths=True),
        "head_epochs": Param(20, "epochs of the MLP head", low=1),
    }
    # Overrides per profile; "quick" must fit a 2-core CPU, "paper" follows the
    # paper on a GPU, "smoke" is the tiny setting of the contract test;
    # "quick@<modality>" (quick@pointcloud) would apply on top of "quick" for every data
    # set of that modality, "quick@digits" on top of both for the digits data set only.
    profiles = {"quick": {}, "paper": {"head_epochs": 100}, "smoke": {"head_epochs": 2}}

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        flat = {name: split.x.flatten(1) for name, split in
                (("train", data.train), ("val", data.val), ("test", data.test))}
        with ctx.stage("train_head"):
            head = train_feature_head(flat["train"], data.train.y, flat["val"], flat["test"],
                                      data.num_classes, ctx, hidden=params["head_hidden"],
                                      epochs=params["head_epochs"])
        return MethodOutput(heads={"pixels": head}, num_params={"head": head.num_params})
