"""The authors' own training code on a wsbench zoo export, at a budget this machine can run,
for the side-by-side with wsbench's run of the same network and recipe.

    python -m crosscheck.side_by_side dwsnet|neural-graph|scalegmn|nfn AUTHORS_CHECKOUT EXPORT --epochs E [--seed S]

EXPORT is `wsbench zoo export` of a fitted zoo, `--format inr-set` (`--format nfn` for NFN).
The neural graph's side is
their experiments/inr_classification/main.py `train`, at the configuration of their
scripts/<data>_cls_pna.sh (as crosscheck/neural_graph.py composes it) with E epochs instead of
200, the warm-up scaled by the same factor, one evaluation per epoch, the normalisation
statistics of the export's training INRs (per weight matrix and bias vector, as theirs were
computed) in place of their zoo's, no data-loading workers and no distributed training.
ScaleGMN's side is their inr_classification.py `main` at configs/fmnist_cls/scalegmn_bidir.yml
(as crosscheck/scalegmn.py loads it, dropout kept) with E epochs, the warm-up scaled by E/200,
on the export's INRs put in their canonical form by their shift_params first (what their
`switch_to_canon` data sets hold) and read by their Fashion-MNIST loader; its per-epoch
evaluation (val, test and a train subset) is theirs. NFN's side is their
experiments/classify_siren.py `main` at their MNIST configuration (as crosscheck/nfn.py composes
it: 3 HNP layers of 512, batch 32, Adam 1e-4, dropout kept) for E epochs of the export's
training INRs in place of 200,000 steps, the 10,000-step warm-up scaled by the same factor,
without their 10 refitted copies of every image (the export holds one INR an image), their
evaluation every 3,000 steps and at the last, on the CPU (their `.cuda()` calls left on the
CPU), no data-loading workers; their closing evaluation on the whole train set, which the
comparison does not use, is skipped. DWSNet's side is their experiments/mnist/trainer.py run as
its command line runs it, at its defaults (DWSNet, AdamW with AMSGrad at a constant 5e-3,
batch 512, their weight augmentations, per-entry normalisation by the export's statistics)
for E epochs, no data-loading workers, evaluated every epoch; its wsbench command is the
plugin's `paper` profile on the export's zoo, which departs from their network and recipe
where the profile says so. Their wandb logging is replaced by a
recorder; the result (best validation accuracy, the
test accuracy at it, CPU seconds) is printed and written as JSON, with the wsbench command
that trains the same network and recipe on the same zoo and budget.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

from crosscheck.common import checkout
from wsbench.core.fileio import atomic_write_json

RESULTS = Path(__file__).resolve().parents[1] / "results" / "side-by-side"
# wsbench's data set -> their data configuration (digits, 8x8 images through the same 2-32-32-1
# SIRENs and 10 classes, borrows MNIST's: for a short trial of this script)
THEIR_DATA = {"mnist": "mnist", "fashion-mnist": "fmnist", "digits": "mnist"}


class Recorder(types.ModuleType):
    """A stand-in for wandb that keeps what the training logs."""

    def __init__(self):
        super().__init__("wandb")
        self.logs: list[dict] = []
        self.run = types.SimpleNamespace(path="local/side-by-side/run", id="side-by-side")
        self.config = types.SimpleNamespace(update=lambda *args, **kwargs: None)

    def init(self, *args, **kwargs):
        return self.run

    def log(self, entry: dict, *args, **kwargs):
        self.logs.append({k: float(v) for k, v in entry.items() if isinstance(v, (int, float, torch.Tensor))})

    def finish(self, *args, **kwargs):
        pass

    def Settings(self, *args, **kwargs):  # noqa: N802 (wandb's name)
        return None

    @property
    def plot(self):
        return types.SimpleNamespace(confusion_matrix=lambda *args, **kwargs: None)


def layer_statistics(export: Path) -> dict[str, list[float]]:
    """The train zoo's mean and std (unbiased) of every weight matrix and bias vector, as the
    export's manifest holds them, in their data config's keys."""
    tensors = json.loads((export / "wsbench.json").read_text())["statistics"]
    return {f"{kind}_{key}": [t[key] for t in tensors if t["name"][0] == letter]
            for kind, letter in (("weights", "W"), ("biases", "b")) for key in ("mean", "std")}


def neural_graph(authors: Path, export: Path, dataset: str, epochs: int, seed: int) -> dict:
    from crosscheck import neural_graph as check
    sys.modules["wandb"] = recorder = Recorder()
    published = [o.replace("data=mnist", f"data={THEIR_DATA[dataset]}") for o in check.PUBLISHED]
    base = check.load_authors(authors, published)
    splits = json.loads((export / "splits.json").read_text())
    steps_per_epoch = -(-len(splits["train"]["label"]) // base.batch_size)
    warmup = max(1, round(base.scheduler.warmup_steps * epochs / base.n_epochs))
    stats = layer_statistics(export)
    overrides = [*published, f"data.dataset_dir={export.resolve()}", "data.splits_path=splits.json",
                 f"n_epochs={epochs}", f"eval_every={steps_per_epoch}", "num_workers=0", "distributed=null",
                 f"seed={seed}", f"scheduler.warmup_steps={warmup}",
                 *(f"data.stats.{k}=[{','.join(repr(x) for x in v)}]" for k, v in stats.items())]
    cfg = check.load_authors(authors, overrides)
    from experiments.inr_classification import main as their_main
    from experiments.lr_scheduler import WarmupLRScheduler
    import experiments.lr_scheduler as schedulers
    schedulers.WarmupLRScheduler = check.without_verbose(WarmupLRScheduler)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        start = time.process_time()
        their_main.train(cfg, types.SimpleNamespace(runtime=types.SimpleNamespace(output_dir=out)))
        cpu = time.process_time() - start
    evaluations = [entry for entry in recorder.logs if "test/best_acc" in entry]
    if not evaluations:
        raise SystemExit("their training logged no evaluation: is the budget shorter than an epoch?")
    last = evaluations[-1]
    wsbench = (f"wsbench run --method neural-graph --dataset {dataset} --seeds {seed}-{seed} --param network=authors "
               f"--param layers={cfg.model.gnn_backbone.num_layers} --param epochs={epochs} "
               f"--param batch_size={cfg.batch_size} --param warmup_steps={warmup} --param augment=kofinas")
    return {"val_best_acc": 100 * last["val/best_acc"], "test_acc_at_best_val": 100 * last["test/best_acc"],
            "evaluations": len(evaluations), "epochs": epochs, "warmup_steps": warmup,
            "train_samples": epochs * len(splits["train"]["label"]), "cpu_s": round(cpu, 1),
            "overrides": overrides[:len(published)] + overrides[len(published) + 2:len(published) + 8],
            "wsbench_command": wsbench}


def export_layout(export: Path):
    """The SIREN layout of the export's INRs, from its manifest."""
    from wsbench.inr.siren import SirenLayout
    shape = json.loads((export / "wsbench.json").read_text())["layout"]
    return SirenLayout(tuple(shape["widths"]), shape["w0"])


def canonical_copy(export: Path, out: Path) -> Path:
    """The export's INRs in their canonical form (their shift_params), each with its label, under
    `out` with the export's part/name layout, and the paths file their Fashion-MNIST loader reads."""
    from crosscheck.scalegmn import authors_fold, their_state
    layout = export_layout(export)
    paths = json.loads((export / "paths.json").read_text())
    for part, files in paths.items():
        (out / part).mkdir(parents=True, exist_ok=True)
        for file in files:
            state = torch.load(export / part / Path(file).name)
            flat = torch.cat([t.flatten() for name, t in state.items() if name != "label"])[None]
            torch.save(their_state(layout, authors_fold(layout, flat)[0], state["label"]), out / part / Path(file).name)
    (out / "paths.json").write_text(json.dumps(paths))
    return out


def scalegmn(authors: Path, export: Path, dataset: str, epochs: int, seed: int) -> dict:
    import yaml
    from crosscheck import scalegmn as check
    sys.modules["wandb"] = recorder = Recorder()
    conf = check.load_authors(authors, export_layout(export), 10, dropout=None)
    from src.data.fmnist_inr_dataset import LabeledFashionMnistINRDataset
    # their data package's `dataset` (which load_authors does not import) as it maps their configuration
    sys.modules["src.data"].dataset = lambda config, **kwargs: LabeledFashionMnistINRDataset(**config, **kwargs)
    published_warmup = conf["optimization"]["scheduler_args"]["warmup_steps"]
    warmup = max(1, round(published_warmup * epochs / conf["train_args"]["num_epochs"]))
    with tempfile.TemporaryDirectory() as tmp:
        canonical = canonical_copy(export, Path(tmp) / "inrs")
        conf["data"].update(dataset_path=f"{canonical}/", split_path=str(canonical / "paths.json"))
        conf["train_args"].update(num_epochs=epochs, seed=seed)
        conf["optimization"]["scheduler_args"]["warmup_steps"] = warmup
        conf.update(wandb=True, num_workers=0, validate=True, debug=False)
        (Path(tmp) / "conf.yml").write_text(yaml.safe_dump(conf))
        import inr_classification as their_main
        torch.set_num_threads(1)
        start = time.process_time()
        their_main.main(types.SimpleNamespace(conf=str(Path(tmp) / "conf.yml")))
        cpu = time.process_time() - start
    evaluations = [entry for entry in recorder.logs if "test/best_acc" in entry]
    if not evaluations:
        raise SystemExit("their training logged no evaluation")
    last, args, opt = evaluations[-1], conf["scalegmn_args"], conf["optimization"]
    wsbench = (f"wsbench run --method scalegmn --dataset {dataset} --seeds {seed}-{seed} --param network=authors "
               f"--param hidden={args['d_hid']} --param layers={args['num_layers']} "
               f"--param dropout={args['gnn_args']['dropout']} --param epochs={epochs} "
               f"--param batch_size={conf['batch_size']} --param lr={opt['optimizer_args']['lr']} "
               f"--param weight_decay={opt['optimizer_args']['weight_decay']} --param warmup_steps={warmup} "
               f"--param clip_norm={opt['clip_grad_max_norm']}")
    splits = json.loads((export / "splits.json").read_text())
    return {"val_best_acc": 100 * last["val/best_acc"], "test_acc_at_best_val": 100 * last["test/best_acc"],
            "evaluations": len(evaluations), "epochs": epochs, "warmup_steps": warmup,
            "train_samples": epochs * len(splits["train"]["label"]), "cpu_s": round(cpu, 1),
            "config": check.CONFIG, "wsbench_command": wsbench}


class Finished(Exception):
    """Raised once their training has logged the last figure the comparison reads."""


@contextlib.contextmanager
def on_the_cpu(*modules):
    """Their `.cuda()` and `.to("cuda")` calls keep tensors and modules where they are."""
    saved = [(torch.Tensor, "cuda", torch.Tensor.cuda), (torch.nn.Module, "cuda", torch.nn.Module.cuda)]
    saved += [(m, "to", m.to) for m in modules]
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    for m in modules:
        m.to = lambda self, device: self
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


class Unused(types.ModuleType):
    """A module whose every name is a callable doing nothing: for imports of code paths not run."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def stand_in_torchvision() -> None:
    """Where torchvision is not installed, an `Unused` module for imports of it that the
    side by side never calls (image data sets and their transforms)."""
    if importlib.util.find_spec("torchvision") is None:
        sys.modules.update({name: Unused(name) for name in ("torchvision", "torchvision.datasets")})
        sys.modules["torchvision"].transforms = sys.modules["torchvision"].datasets = sys.modules["torchvision.datasets"]


def nfn(authors: Path, export: Path, dataset: str, epochs: int, seed: int) -> dict:
    from omegaconf import OmegaConf
    from crosscheck import nfn as check
    manifest = json.loads((export / "wsbench.json").read_text())
    if manifest["format"] != "nfn":
        raise SystemExit(f"{export}: a {manifest['format']} export; NFN's loader reads `wsbench zoo export --format nfn`")
    sys.modules["wandb"] = recorder = Recorder()
    published = check.published(authors)
    sys.path.insert(0, str(authors / "experiments" / "perceiver-pytorch"))  # their models.py imports it
    stand_in_torchvision()  # their data_utils imports it for image data sets
    from experiments import classify_siren as their_main
    from nfn.common import WeightSpaceFeatures
    loader = torch.utils.data.DataLoader
    their_main.data = types.SimpleNamespace(  # no data-loading workers
        DataLoader=lambda *args, num_workers=0, **kwargs: loader(*args, **kwargs),
        ConcatDataset=torch.utils.data.ConcatDataset)
    batch = int(published["batch_size"])
    steps = epochs * (manifest["count"]["train"] // batch)  # their train loader drops the last batch
    warmup = max(1, round(published["warmup_steps"] * steps / published["max_steps"]))
    split_points = json.loads((export / "split_points.json").read_text())

    def stop_at_test(entry: dict, *args, **kwargs):
        Recorder.log(recorder, entry)
        if "test/acc" in entry:
            raise Finished
    recorder.log = stop_at_test
    with tempfile.TemporaryDirectory() as out:
        cfg = OmegaConf.create({
            "dset": {"_target_": "experiments.data_utils.SirenDataset", "data_path": str(export.resolve()),
                     "prefix": "wsbench", "split_points": split_points},
            "nfnet": published["nfnet"], "opt": published["opt"], "batch_size": batch, "warmup_steps": warmup,
            "max_steps": steps, "extra_aug": 0, "compile": False, "output_dir": out, "seed": seed})
        torch.manual_seed(seed)  # their main seeds nothing
        torch.set_num_threads(1)
        start = time.process_time()
        with on_the_cpu(WeightSpaceFeatures):
            try:
                their_main.main(cfg)
            except Finished:
                pass
        cpu = time.process_time() - start
    vals = [entry["val/acc"] for entry in recorder.logs if "val/acc" in entry]
    tests = [entry["test/acc"] for entry in recorder.logs if "test/acc" in entry]
    if not tests:
        raise SystemExit("their training logged no test accuracy")
    params = {**check.wsbench_params(published, published["nfnet"]), "warmup_steps": warmup, "epochs": epochs}
    wsbench = (f"wsbench run --method nfn --dataset {dataset} --seeds {seed}-{seed} "
               + " ".join(f"--param {k}={v}" for k, v in params.items() if k != "mode"))
    return {"val_best_acc": 100 * max(vals), "test_acc_at_best_val": 100 * tests[-1], "evaluations": len(vals),
            "epochs": epochs, "steps": steps, "warmup_steps": warmup,
            "train_samples": steps * batch, "cpu_s": round(cpu, 1), "config": published["files"],
            "wsbench_command": wsbench}


def dwsnet(authors: Path, export: Path, dataset: str, epochs: int, seed: int) -> dict:
    import runpy
    from crosscheck.common import registry
    from wsbench.zoo.method import ZooMethod
    sys.modules["wandb"] = recorder = Recorder()
    stand_in_torchvision()  # the Fourier-feature package their INR module imports loads it for its data loader
    script = authors / "experiments" / "mnist" / "trainer.py"
    argv, sys.argv = sys.argv, [str(script), "--data-path", str(export.resolve() / "splits.json"), "--statistics-path",
                                str(export.resolve() / "statistics.pth"), "--n-epochs", str(epochs),
                                "--num-workers", "0", "--seed", str(seed), "--wandb"]
    torch.set_num_threads(1)
    start = time.process_time()
    try:  # their script as its command line runs it, at its defaults but for these flags
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    cpu = time.process_time() - start
    evaluations = [entry for entry in recorder.logs if "test/best_acc" in entry]
    if not evaluations:
        raise SystemExit("their training logged no evaluation")
    paper = registry().method("dwsnet").profiles["paper"]
    params = {**{k: v for k, v in paper.items() if k not in ZooMethod.DWSNET_SET}, "epochs": epochs}
    wsbench = (f"wsbench run --method dwsnet --dataset {dataset} --seeds {seed}-{seed} "
               + " ".join(f"--param {k}={v}" for k, v in params.items()))
    splits = json.loads((export / "splits.json").read_text())
    last = evaluations[-1]
    return {"val_best_acc": 100 * last["val/best_acc"], "test_acc_at_best_val": 100 * last["test/best_acc"],
            "evaluations": len(evaluations), "epochs": epochs, "train_samples": epochs * len(splits["train"]["label"]),
            "cpu_s": round(cpu, 1), "config": "experiments/mnist/trainer.py defaults (--model dwsnet)",
            "wsbench_command": wsbench}


METHODS = {"dwsnet": dwsnet, "neural-graph": neural_graph, "scalegmn": scalegmn, "nfn": nfn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("authors", type=Path, help="a checkout of the authors' repository (outside this project)")
    parser.add_argument("export", type=Path, help="a `wsbench zoo export` folder (--format nfn for nfn, else inr-set)")
    parser.add_argument("--epochs", type=int, required=True, help="training epochs of the budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="result file (default results/side-by-side/<method>-<data>.json)")
    args = parser.parse_args()
    manifest = json.loads((args.export / "wsbench.json").read_text())
    dataset = manifest["zoos"]["train"]["spec"]["dataset"]
    if dataset not in THEIR_DATA:
        parser.error(f"{args.export}: a {dataset} zoo; their configurations cover {', '.join(THEIR_DATA)}")
    result = {"method": args.method, "dataset": dataset, "seed": args.seed, "authors": checkout(args.authors),
              "zoos": {part: info["zoo_id"] for part, info in manifest["zoos"].items()},
              **METHODS[args.method](args.authors, args.export, dataset, args.epochs, args.seed)}
    out = args.out or RESULTS / f"{args.method}-{dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, result)
    print(f"{args.method} on {dataset}, authors' code, {args.epochs} epochs, seed {args.seed}: "
          f"val {result['val_best_acc']:.2f}, test {result['test_acc_at_best_val']:.2f} at the best validation "
          f"({result['cpu_s']:.0f} CPU-s); wsbench's side: {result['wsbench_command']} (written to {out})")


if __name__ == "__main__":
    main()
