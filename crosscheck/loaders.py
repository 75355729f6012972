"""Read a `wsbench zoo export` with the authors' own data loaders and compare every INR and
label they return with what wsbench exported. Give the checkouts you have:

    python -m crosscheck.loaders INR_SET_EXPORT [--dwsnets PATH] [--neural-graphs PATH] [--scalegmn PATH]
    python -m crosscheck.loaders NFN_EXPORT --nfn PATH

The loaders import image libraries (torchvision, cv2) that they do not use on INRs;
`--stub-missing` stands empty modules in for those that are not installed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from crosscheck.common import stand_in

IMAGE_LIBRARIES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                   "torchvision.datasets", "cv2")
FORMAT_OF = {"dwsnets": "inr-set", "neural_graphs": "inr-set", "scalegmn": "inr-set", "nfn": "nfn"}


def use_checkout(path: Path) -> None:
    """Import the next loader from this checkout alone (the checkouts share package names)."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("experiments", "nn", "src")]:
        del sys.modules[name]
    sys.path.insert(0, str(path.resolve()))


def flat(weights, biases, layout: str) -> torch.Tensor:
    """The loader's per-layer tensors as wsbench's flat row (W (out, in), then b, per layer);
    `layout` "in-out": (in, out, 1) and (out, 1) as DWSNets' family; "batch": (1, out, in) as NFN."""
    parts = []
    for w, b in zip(weights, biases):
        w = w.squeeze(-1).T if layout == "in-out" else w.squeeze(0)
        parts += [w.flatten(), b.flatten()]
    return torch.cat(parts)


def exported(export: Path, part: str) -> list[torch.Tensor]:
    """The flat weights of one part as wsbench wrote them, in the part's order."""
    if (export / "splits.json").exists():
        paths = json.loads((export / "splits.json").read_text())[part]["path"]
    else:  # nfn: net<index>.pth, the indices counting train, val and test in turn
        count = json.loads((export / "wsbench.json").read_text())["count"]
        first = sum(count[p] for p in ("train", "val", "test")[:("train", "val", "test").index(part)])
        nets = {int(p.stem[3:]): p for p in export.glob("wsbench_*s/net*.pth")}
        paths = [nets[i] for i in range(first, first + count[part])]
    return [torch.cat([v.flatten() for k, v in torch.load(p).items() if k != "label"]) for p in paths]


def compare(name: str, dataset, export: Path, part: str, read) -> tuple[bool, str]:
    weights, labels = exported(export, part), json.loads((export / "wsbench.json").read_text())["labels"][part]
    if len(dataset) != len(labels):
        return False, f"{name}: {len(dataset)} {part} INRs, the export has {len(labels)}"
    for i in range(len(dataset)):
        w, y = read(dataset[i])
        if not torch.equal(w, weights[i]) or y != labels[i]:
            return False, f"{name}: {part} INR {i} differs from the export"
    return True, f"{name}: the {len(labels)} {part} INRs and labels read back exactly"


def main() -> None:
    parser = argparse.ArgumentParser(prog="crosscheck/loaders.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="a folder written by `wsbench zoo export`")
    for flag in ("dwsnets", "neural-graphs", "scalegmn", "nfn"):
        parser.add_argument(f"--{flag}", type=Path, help=f"a checkout of the {flag} authors' repository")
    parser.add_argument("--stub-missing", action="store_true")
    args = parser.parse_args()
    export = args.export.resolve()
    manifest = export / "wsbench.json"
    if not manifest.exists():
        parser.error(f"{export}: no wsbench.json; give a folder written by `wsbench zoo export`")
    fmt = json.loads(manifest.read_text())["format"]
    given = {key: getattr(args, key) for key in FORMAT_OF if getattr(args, key)}
    if not given:
        parser.error("give at least one checkout")
    if wrong := [k for k in given if FORMAT_OF[k] != fmt]:
        parser.error(f"--{wrong[0].replace('_', '-')} reads the {FORMAT_OF[wrong[0]]} format; {export} is {fmt}")
    if args.stub_missing:
        stand_in(*IMAGE_LIBRARIES)
    in_out = lambda b: (flat(b.weights, b.biases, "in-out"), b.label)  # noqa: E731
    results = []
    if args.dwsnets:
        use_checkout(args.dwsnets)
        from experiments.data import INRDataset
        results.append(compare("DWSNets", INRDataset(path=str(export / "splits.json"), split="test"),
                               export, "test", in_out))
    if args.neural_graphs:
        use_checkout(args.neural_graphs)
        from experiments.data import INRDataset
        results.append(compare("neural-graphs", INRDataset(dataset_dir=str(export), splits_path="splits.json",
                                                           split="val"), export, "val", in_out))
    if args.scalegmn:
        use_checkout(args.scalegmn)
        from src.data.fmnist_inr_dataset import LabeledFashionMnistINRDataset
        from src.data.mnist_inr_dataset import LabeledINRDataset
        widths = json.loads((export / "wsbench.json").read_text())["layout"]["widths"]
        options = dict(split="test", layer_layout=widths, switch_to_canon=False, data_format="wb")
        results.append(compare("ScaleGMN, MNIST loader", LabeledINRDataset(
            "mnist_inr", f"{export}/", str(export / "splits.json"), **options), export, "test", in_out))
        results.append(compare("ScaleGMN, Fashion-MNIST loader", LabeledFashionMnistINRDataset(
            "fmnist_inr", f"{export}/", str(export / "paths.json"), **options), export, "test", in_out))
    if args.nfn:
        use_checkout(args.nfn)
        from experiments.data_utils import SirenDataset
        points = json.loads((export / "split_points.json").read_text())
        dataset = SirenDataset(str(export), prefix="wsbench", split="test", split_points=points)
        results.append(compare("NFN", dataset, export, "test", lambda item: (flat(*item[0], "batch"), item[1])))
    print("\n".join(text for _, text in results))
    sys.exit(0 if all(ok for ok, _ in results) else 1)


if __name__ == "__main__":
    main()
