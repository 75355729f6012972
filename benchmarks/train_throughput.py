"""Training throughput of the shipped methods at a profile (quick by default), in samples/s,
on synthetic data of MNIST size (28x28 images, 10 classes) or ModelNet40 size (SIRENs
3-32-32-1, 40 classes), with no data to prepare; optionally against an earlier commit.

The zoo classifiers (subclasses of ZooMethod) are timed step by step: random flat weights of
the zoo's SIREN layout, normalised as the method does, through `build`, the method's
optimiser and loss, at the profile's batch size; warm-up steps excluded, the median of a few
timed repeats. The other methods have no common step API, so each runs once through the
harness (`wsbench run`) on the synthetic image data set at 28x28 with 10 classes and
`--per-class` images per class and split, for one epoch (or a few outer steps), and its rate
is the samples it trained on over the wall time of its training stage in the record: that
stage includes the method's own per-epoch validation and test predictions and setup, so it
is a lower bound on the step rate and not comparable with the zoo rates. Point-cloud
methods need a point-cloud data set, and none is synthetic, so PointNet is timed step by
step instead: its network on random clouds of 1,024 points, with its optimiser (augmentation
left out).

`--against COMMIT` checks COMMIT out into a temporary git worktree, runs this same file
there (that tree first on the path), one method at a time alternating with this tree's
measurement of the same method, and prints both rates and their ratio. Usage:
    python benchmarks/train_throughput.py [--methods a,b] [--shape mnist|modelnet40|both]
                                          [--against COMMIT] [--seconds S] [--threads N]
                                          [--param KEY=VALUE ...]
`--param` sets a parameter of every measured method that declares it (network=wsbench:
wsbench's own networks of NFN, the neural graph, ScaleGMN and MWT instead of their authors').
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import inspect
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent

# shape -> (zoo SIREN widths, classes, modality, data set whose profile overrides apply)
SHAPES = {"mnist": ((2, 32, 32, 1), 10, "image", "mnist"),
          "modelnet40": ((3, 32, 32, 1), 40, "pointcloud", "modelnet40")}
ZOO_METHODS = ("dwsnet", "nfn", "neural-graph", "scalegmn", "flat-mlp")
# Methods timed through the harness: the parameters that shorten the run, the record stage
# that trains, and the samples that stage trained on (from the run's train set size n and
# its resolved parameters p).
HARNESS = {
    "hyperinr": ({"epochs": 1, "head_epochs": 1}, "train_hypernetwork", lambda n, p: n),
    "functa": ({"meta_steps": 20, "head_epochs": 1}, "meta_learn", lambda n, p: p["meta_steps"] * p["batch_size"]),
    "mwt": ({"epochs": 1}, "train", lambda n, p: n),
    "cnn-pixels": ({"epochs": 1}, "train", lambda n, p: n),
    "logreg-pixels": ({}, "fit", lambda n, p: n),  # one scikit-learn fit to convergence
}
POINT_METHODS = ("pointnet",)  # no synthetic point-cloud data set ships: timed step by step
POINTS = 1024  # per cloud, as ModelNet40's
ALL_METHODS = ZOO_METHODS + tuple(HARNESS) + POINT_METHODS


def use_tree(tree: Path) -> None:
    """Import wsbench from `tree` (the current one, or an earlier commit's worktree)."""
    sys.path.insert(0, str(tree))
    import wsbench
    if Path(wsbench.__file__).resolve().parent.parent != tree:
        raise SystemExit(f"wsbench was imported from {wsbench.__file__}, not from the tree {tree}")


def registry(tree: Path):
    from wsbench.core.discovery import discover
    from wsbench.core.paths import plugin_dirs
    return discover(plugin_dirs(tree))


def declared(cls, overrides: dict[str, str]) -> dict[str, str]:
    """The `--param` settings this method declares."""
    return {k: v for k, v in overrides.items() if k in cls.params}


def profile_params(cls, profile: str, shape: str, dataset: str | None = None,
                   overrides: dict[str, str] | None = None) -> dict:
    """The method's parameters at this profile for this shape, on the shape's data set unless
    another is named, with the `--param` settings it declares (older trees' resolve takes no
    modality)."""
    from wsbench.core.params import resolve
    _, _, modality, shape_dataset = SHAPES[shape]
    dataset, mine = dataset or shape_dataset, declared(cls, overrides or {})
    if "modality" in inspect.signature(resolve).parameters:
        return resolve(cls, mine, profile, dataset, modality)
    return resolve(cls, mine, profile, dataset)


def zoo_rate(method, shape: str, profile: str, seconds: float, overrides: dict[str, str]) -> float:
    """Samples/s of the method's training step on random weights of the shape's zoo layout."""
    import torch
    from wsbench.inr.siren import SirenLayout
    widths, classes, _, _ = SHAPES[shape]
    params = profile_params(type(method), profile, shape, overrides=overrides)
    layout, batch, device = SirenLayout(widths), params["batch_size"], torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    raw = layout.init(8 * batch, gen)
    raw = raw + 0.01 * torch.randn(raw.shape, generator=gen)  # fitted weights are not the initialisation
    labels = torch.randint(0, classes, (8 * batch,), generator=gen)
    stats = torch.stack([raw.mean(0), raw.std(0)])
    takes_params = "params" in inspect.signature(method.normaliser).parameters
    normalise = method.normaliser(stats, device, params) if takes_params else method.normaliser(stats, device)
    model = method.build(layout, classes, params).to(device).train()
    if params.get("compile"):  # the zoo classifiers' `compile` (trees before it have none), as their runs compile
        from wsbench.api import compile_module
        compile_module(model, device)
    opt = method.optimisation(params).build(model, params["epochs"])
    forward = at_precision(model, params)
    return step_rate(lambda idx: opt.step(forward(normalise(raw[idx])), labels[idx]), batch, seconds)


def point_rate(method, profile: str, seconds: float, overrides: dict[str, str]) -> float:
    """Samples/s of a point-cloud network's training step on random clouds (ModelNet40's 40
    classes); older trees build PointNet in their run, so it is built here as they did."""
    import torch
    from wsbench.api import Optimisation, parse_widths
    params = profile_params(type(method), profile, "modelnet40", overrides=overrides)
    batch, classes, device = params["batch_size"], SHAPES["modelnet40"][1], torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    clouds = torch.rand(8 * batch, POINTS, 3, generator=gen) * 2 - 1
    labels = torch.randint(0, classes, (8 * batch,), generator=gen)
    if hasattr(method, "network"):
        model = method.network(classes, params, device)
    else:
        model = sys.modules[type(method).__module__].PointNet(classes, parse_widths(params["widths"]),
                                                              params["head_hidden"], params["dropout"])
    model.train()
    opt = Optimisation(params["lr"], params["weight_decay"]).build(model, params["epochs"])
    forward = at_precision(model, params)
    return step_rate(lambda idx: opt.step(forward(clouds[idx]), labels[idx]), batch, seconds)


def at_precision(model, params: dict):
    """The model's forward pass at the method's `precision` (trees and methods without the
    parameter compute in float32)."""
    if params.get("precision", "fp32") == "fp32":
        return model
    import torch
    from wsbench.train.precision import autocast

    def forward(x):
        with autocast(torch.device("cpu"), params["precision"]):
            return model(x)
    return forward


def step_rate(step, batch: int, seconds: float) -> float:
    """Samples/s of `step(index)` over batches of 8 rotating slices: warm-up steps (compilation
    included) excluded, the median of 5 timed repeats of about `seconds` in all."""
    def steps(n: int, start: int) -> float:
        begin = time.perf_counter()
        for k in range(start, start + n):
            step(slice((k % 8) * batch, (k % 8 + 1) * batch))
        return time.perf_counter() - begin

    steps(2, 0)  # warm-up: a compiled network compiles here, for training and its last batch alike
    per_step = steps(3, 2) / 3  # a first guess of a step's time
    repeats = 5
    n = max(1, int(seconds / repeats / max(per_step, 1e-6)))
    return statistics.median(n * batch / steps(n, 5 + r * n) for r in range(repeats))


def harness_rate(tree: Path, name: str, cls, profile: str, per_class: int, threads: int,
                 settings: dict[str, str]) -> tuple[float, float]:
    """Samples/s of the method's training stage in one run through the harness (`wsbench run`),
    and that stage's wall seconds (records keep milliseconds: a short stage's rate is coarse)."""
    shorten, stage, samples = HARNESS[name]
    overrides = {**declared(cls, settings), **shorten}
    params = {**profile_params(cls, profile, "mnist", "synthetic", settings), **shorten}
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-c", "from wsbench.cli import main; main()",
                   "--results", f"{tmp}/results", "--data-root", f"{tmp}/data",
                   "run", "--method", name, "--dataset", "synthetic", "--profile", profile, "--quiet",
                   *(f"--data-param={kv}" for kv in ("classes=10", "size=28", f"per_class={per_class}")),
                   *(f"--param={k}={v}" for k, v in overrides.items())]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("WSBENCH_")},
               "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=600)
        records = glob.glob(f"{tmp}/results/runs/*.json")
        if done.returncode or not records:
            raise RuntimeError(f"the run failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        record = json.loads(Path(records[0]).read_text())
    wall = record["cost"]["stages"][stage]["wall_s"]
    return samples(record["metrics"]["train_samples"], params) / wall, wall


def measure(tree: Path, methods: list[str], shapes: list[str], profile: str, seconds: float,
            per_class: int, threads: int, overrides: dict[str, str]) -> dict:
    """{method: {shape: {"rate": samples/s or None, "how": ..., "note": why not}}} for this tree."""
    reg = registry(tree)
    out: dict[str, dict] = {}
    for name in methods:
        out[name] = {}
        for shape in shapes:
            entry: dict = {"rate": None, "how": "", "note": ""}
            try:
                cls = reg.method(name)
                modality = SHAPES[shape][2]
                if modality not in cls.modalities:
                    entry["note"] = f"does not run on {modality}s"
                elif name in ZOO_METHODS:
                    entry["how"] = "step"
                    entry["rate"] = zoo_rate(cls(), shape, profile, seconds, overrides)
                elif name in POINT_METHODS:
                    entry["how"] = "step"
                    entry["rate"] = point_rate(cls(), profile, seconds, overrides)
                elif modality != "image":
                    entry["how"], entry["note"] = "harness", "no synthetic point-cloud data set ships to run it on"
                else:
                    entry["how"] = "harness"
                    entry["rate"], wall = harness_rate(tree, name, cls, profile, per_class, threads, overrides)
                    entry["note"] = f"{HARNESS[name][1]} stage {wall:.3f} s"
            except Exception as error:  # an older tree may lack the method or its API: say so
                entry["note"] = f"{type(error).__name__}: {error}"
            out[name][shape] = entry
    return out


def commit_of(tree: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True,
                          text=True).stdout.strip()


def machine(threads: int) -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {threads} thread(s); "
            f"Python {platform.python_version()}, torch {torch.__version__}")


@contextlib.contextmanager
def worktree(commit: str):
    """A temporary git worktree of `commit`, removed on every path out."""
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], cwd=REPO,
                           capture_output=True, text=True)
    if known.returncode:
        raise SystemExit(f"--against {commit!r}: not a commit of the repository at {REPO}")
    tmp = Path(tempfile.mkdtemp(prefix="wsbench-against-"))
    tree = tmp / "tree"
    try:
        made = subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO,
                              capture_output=True, text=True)
        if made.returncode:
            raise SystemExit(f"--against {commit!r}: git worktree add failed: {made.stderr.strip()}")
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def measure_at(tree: Path, commit: str, argv: list[str]) -> dict:
    """This file's measurement run in the worktree `tree` (that tree first on the path)."""
    done = subprocess.run([sys.executable, str(HERE), "--tree", str(tree), "--json", *argv],
                          cwd=tree, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"--against {commit!r}: the measurement at that commit failed:\n{done.stderr}")
    return json.loads(done.stdout)


def interleaved(commit: str, args: argparse.Namespace, methods: list[str], shapes: list[str]) -> tuple[dict, dict]:
    """Both trees measured method by method, in alternating order (then-now, now-then, ...),
    so that a change in the machine's load during the run falls on both alike."""
    now: dict = {"rates": {}}
    then: dict = {"rates": {}}
    with worktree(commit) as tree:
        for k, name in enumerate(methods):
            def here() -> None:
                now["rates"].update(measure(REPO, [name], shapes, args.profile, args.seconds, args.per_class,
                                            args.threads, settings(args)))

            def there() -> None:
                doc = measure_at(tree, commit, against_argv(args, [name]))
                then["rates"].update(doc["rates"])
                then["commit"] = doc["commit"]
            for turn in ((there, here) if k % 2 == 0 else (here, there)):
                turn()
    return now, then


def against_argv(args: argparse.Namespace, methods: list[str]) -> list[str]:
    """The options that make the measurement at the other commit the same as this one."""
    return ["--methods", ",".join(methods), "--shape", args.shape, "--seconds", str(args.seconds),
            "--threads", str(args.threads), "--profile", args.profile, "--per-class", str(args.per_class),
            *(f"--param={item}" for item in args.param)]


def settings(args: argparse.Namespace) -> dict[str, str]:
    """--param KEY=VALUE items as a dict (checked against each method's declarations when resolved)."""
    from wsbench.core.errors import UserError
    from wsbench.core.params import parse_assignments
    try:
        return parse_assignments(args.param, "--param")
    except UserError as error:
        raise SystemExit(str(error)) from None


def fmt(rate) -> str:
    return f"{rate:10.1f}" if rate is not None else f"{'-':>10}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help="comma-separated (default all)")
    parser.add_argument("--shape", default="mnist", choices=("mnist", "modelnet40", "both"))
    parser.add_argument("--against", help="also measure at this earlier commit, in a temporary worktree")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per zoo method and shape")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", default="quick", help="the methods' profile (smoke for a test)")
    parser.add_argument("--per-class", type=int, default=20,
                        help="synthetic images per class and split for the harness-timed methods")
    parser.add_argument("--tree", help=argparse.SUPPRESS)  # the tree to measure (--against sets it)
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of every measured method that declares it (repeatable)")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(ALL_METHODS)}")
    if args.threads < 1 or args.seconds <= 0 or args.per_class < 1:
        parser.error("--threads and --per-class must be at least 1 and --seconds above 0")
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    tree = Path(args.tree).resolve() if args.tree else REPO
    use_tree(tree)
    import torch
    torch.set_num_threads(args.threads)
    result = {"commit": commit_of(tree), "machine": machine(args.threads)}
    if args.against and not args.json:
        now, then = interleaved(args.against, args, methods, shapes)
        result["rates"] = now["rates"]
    else:
        then = None
        result["rates"] = measure(tree, methods, shapes, args.profile, args.seconds, args.per_class, args.threads,
                                  settings(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"machine: {result['machine']}")
    print(f"profile {args.profile}{''.join(f', --param {item}' for item in args.param)}; step: the training step of a zoo classifier on random weights or of "
          f"PointNet on random clouds (median of 5 repeats, warm-up excluded); harness: one run's training stage on synthetic "
          f"28x28 images, {args.per_class} per class and split, including its own validation and test "
          f"predictions (a lower bound, not comparable with step)")
    head = f"{'method':14} {'shape':10} {'how':8} {'now ' + result['commit']:>10}"
    if then:
        head += f" {'at ' + then['commit']:>10} {'now/then':>8}"
    print(head + "  samples/s")
    for name in methods:
        for shape in shapes:
            now = result["rates"][name][shape]
            line = f"{name:14} {shape:10} {now['how']:8} {fmt(now['rate'])}"
            notes = [now["note"]] if now["note"] else []
            if then:
                old = then["rates"][name][shape]
                ratio = now["rate"] / old["rate"] if now["rate"] and old["rate"] else None
                line += f" {fmt(old['rate'])} {ratio:8.2f}" if ratio else f" {fmt(old['rate'])} {'-':>8}"
                if old["note"] and old["note"] != now["note"]:
                    notes.append(f"at {then['commit']}: {old['note']}")
            print(line + ("  (" + "; ".join(notes) + ")" if notes else ""))
    from wsbench.report.authors import load_crosschecks
    cross = {m: doc for m, doc in load_crosschecks(REPO / "results" / "reference").items() if m in methods}
    if cross:
        print("measured by the cross-check against the authors' code, at its own configuration "
              "(results/reference/crosscheck), not at the profile above:")
        for name, doc in cross.items():
            rates = doc["samples_per_second"]
            print(f"  {name:14} batch {doc.get('batch')}: authors {rates['authors']:.1f}, wsbench "
                  f"{rates['wsbench']:.1f} samples/s ({rates.get('measured', '')})")


if __name__ == "__main__":
    main()
