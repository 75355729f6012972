"""A fitted zoo written in the layouts that the authors' loaders read, so that their code
trains on exactly wsbench's INRs, labels and split.

inr-set  DWSNets', neural-graphs' and ScaleGMN's INR sets: one torch state dict per INR,
         `<part>/inr_<sample>[_v<view>].pth`, holding `layers.K.weight` (out, in) and
         `layers.K.bias` in layer order and the `label` (ScaleGMN's Fashion-MNIST loader
         reads it there); `splits.json` {part: {"path": [...], "label": [...]}} with absolute
         paths (DWSNets and ScaleGMN's MNIST loader open them as given, neural-graphs joins
         them to its data folder); `paths.json` {part: [paths]} for ScaleGMN's Fashion-MNIST
         loader, which reads the labels from the INRs and keeps the last two parts of a path;
         `statistics.pth`, the train zoo's per-entry mean and std in their (in, out, 1) and
         (out, 1) shapes, for their `normalize` option.
nfn      NFN's SIREN sets: `wsbench_<label>s/net<index>.pth` (weights and biases only),
         indices counting the train, val and test INRs in turn; `split_points.json` holds
         the [val, test] start indices for the `split_points` of NFN's data configuration.
Both also get `wsbench.json`: the zoo ids, the recipe, the SIREN layout and output offset,
the labels of each part in order, and the train zoo's mean and std of each weight matrix and
bias vector (the normalisation the zoo methods apply).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from wsbench.core.errors import UserError
from wsbench.core.fileio import atomic_directory
from wsbench.inr.siren import SirenLayout
from wsbench.zoo.store import PARTS, Zoo

FORMATS = ("inr-set", "nfn")


def state_dict(layout: SirenLayout, flat: np.ndarray) -> dict[str, torch.Tensor]:
    """One INR's flat weights as a state dict in layer order, weight before bias."""
    out = {}
    for k, (w, b) in enumerate(layout.unflatten(torch.from_numpy(flat)[None])):
        out[f"layers.{k}.weight"], out[f"layers.{k}.bias"] = w[0].clone(), b[0].clone()
    return out


def export_zoo(zoos: dict[str, Zoo], labels: dict[str, torch.Tensor], fmt: str, out: Path) -> dict[str, int]:
    """Write the train, val and test zoos to `out` (a new folder) in format `fmt`; the number
    of INRs of each part. The folder appears complete or not at all."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out}: exists and is not an empty folder; name a new one")
    for part, zoo in zoos.items():
        if missing := zoo.missing():
            raise UserError(f"the {part} zoo {zoo.spec.zoo_id} lacks {len(missing)} of its {zoo.num_shards} shards; "
                            f"fit it first (`wsbench zoo fit --part all` with the same --dataset and --zoo-param)")
    layout = zoos["train"].spec.layout
    loaded = {part: zoo.load() for part, zoo in zoos.items()}
    part_labels = {part: labels[part][torch.from_numpy(z["sample"])].numpy() for part, z in loaded.items()}
    if fmt == "nfn" and int(max(y.max() for y in part_labels.values())) > 9:
        raise UserError("--format nfn: NFN's loader reads a label as one digit from the folder name, "
                        "so it holds at most 10 classes; use --format inr-set")
    final = out.resolve()
    with atomic_directory(final) as tmp:
        write = _write_inr_set if fmt == "inr-set" else _write_nfn
        write(tmp, final, layout, loaded, part_labels)
        manifest = {"format": fmt, "layout": {"widths": list(layout.widths), "w0": layout.w0},
                    "inr_offset": zoos["train"].spec.inr_offset,
                    "zoos": {part: zoo.info() for part, zoo in zoos.items()},
                    "count": {part: len(z["weights"]) for part, z in loaded.items()},
                    "statistics": zoos["train"].tensor_statistics(loaded["train"]["weights"]),
                    "labels": {part: [int(y) for y in part_labels[part]] for part in PARTS}}
        (tmp / "wsbench.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest["count"]


def _name(sample: int, view: int) -> str:
    return f"inr_{sample}.pth" if view == 0 else f"inr_{sample}_v{view}.pth"


def _write_inr_set(tmp: Path, final: Path, layout: SirenLayout, loaded: dict, labels: dict) -> None:
    splits = {}
    for part in PARTS:
        z, paths = loaded[part], []
        (tmp / part).mkdir()
        for flat, sample, view, label in zip(z["weights"], z["sample"], z["view"], labels[part]):
            name = _name(int(sample), int(view))
            torch.save({**state_dict(layout, flat), "label": torch.tensor(int(label))}, tmp / part / name)
            paths.append(str(final / part / name))
        splits[part] = {"path": paths, "label": [int(y) for y in labels[part]]}
    (tmp / "splits.json").write_text(json.dumps(splits) + "\n")
    (tmp / "paths.json").write_text(json.dumps({part: splits[part]["path"] for part in PARTS}) + "\n")
    # the authors' loaders hold a weight as (in, out, 1) and a bias as (out, 1)
    layers = layout.unflatten(torch.from_numpy(loaded["train"]["weights"]))
    weights = [w.transpose(1, 2)[..., None] for w, _ in layers]
    biases = [b[..., None] for _, b in layers]
    torch.save({group: {"mean": [t.mean(0) for t in tensors], "std": [t.std(0) for t in tensors]}
                for group, tensors in (("weights", weights), ("biases", biases))}, tmp / "statistics.pth")


def _write_nfn(tmp: Path, final: Path, layout: SirenLayout, loaded: dict, labels: dict) -> None:
    index, starts = 0, []
    for part in PARTS:
        starts.append(index)
        for flat, label in zip(loaded[part]["weights"], labels[part]):
            folder = tmp / f"wsbench_{int(label)}s"
            folder.mkdir(exist_ok=True)
            torch.save(state_dict(layout, flat), folder / f"net{index}.pth")
            index += 1
    (tmp / "split_points.json").write_text(json.dumps(starts[1:]) + "\n")
