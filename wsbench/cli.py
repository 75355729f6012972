"""Command line: wsbench list | prepare | run | report | similarity | verify | sweep | status | zoo.

Each command imports what it needs when it runs, so `wsbench --help` and light commands
do not pay for torch-geometric, matplotlib, scikit-learn or submitit.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path

from wsbench.cluster.settings import CLUSTER_SETTINGS
from wsbench.core import params as P
from wsbench.core.discovery import discover
from wsbench.core.errors import DataNotPrepared, Notice, UserError
from wsbench.core.paths import (DATA_FLAG, RESULTS_FLAG, data_root, plugin_dirs, project_root,
                                require_writable, results_dir)

default_showwarning = warnings.showwarning


def print_params(cls, verbose: bool) -> None:
    for key, spec in cls.params.items() if verbose else ():
        rules = "; ".join(part for part in (spec.rules(), spec.when and f"only with {spec.when[0]}={spec.when[1]}")
                          if part)
        print(f"      {key}={spec.default!r}  {spec.help}" + (f" [{rules}]" if rules else ""))


def cmd_list(args, reg) -> None:
    root = data_root(args.data_root)
    print("methods:")
    for name, cls in sorted(reg.methods.items()):
        profiles = ", ".join(p for p in cls.profiles if "@" not in p)
        print(f"  {name:16s} {cls.description} [profiles: {profiles}]")
        print_params(cls, args.verbose)
    print("data sets:")
    for name, cls in sorted(reg.datasets.items()):
        state = "ready" if cls().is_prepared(root) else f"not prepared: wsbench prepare {name} --from DIR"
        print(f"  {name:16s} {cls.description} [{state}]")
        print_params(cls, args.verbose)
    for path, error in reg.broken.items():
        print(f"broken plugin {path}:\n    " + error.replace("\n", "\n    "))


def cmd_prepare(args, reg) -> None:
    cls = reg.dataset(args.name)
    if not cls.needs_prepare:
        print(f"{args.name} needs no preparation")
        return
    dataset, root = cls(), require_writable(data_root(args.data_root), DATA_FLAG)
    dataset.prepare(root, args.source, P.resolve(cls, P.parse_assignments(args.data_param, "--data-param")))
    print(f"prepared {args.name} under {dataset.folder(root)}")


def cmd_run(args, reg) -> None:
    from wsbench.core.records import summarize
    from wsbench.core.request import Request, resolve_device
    from wsbench.core.runner import Runner, writes_data_root
    from wsbench.core.spec import plan
    from wsbench.report.figures import figures_for
    from wsbench.report.tables import render
    specs = plan(reg, args.method, args.dataset, P.parse_indices(args.seeds, "--seeds"), args.profile,
                 args.param, args.data_param, tune=args.tune)
    results, root = require_writable(results_dir(args.results), RESULTS_FLAG), data_root(args.data_root)
    if writes_data_root(reg, specs):
        require_writable(root, DATA_FLAG)
    runner = Runner(reg, Request(str(root), str(results), str(resolve_device(args.device)), reg.dirs,
                                 quiet=args.quiet), force=args.force)
    done: dict[int, dict] = {}
    done_before = {spec.run_id for spec in specs if runner.done(spec)}  # the rest, if not run here, ran elsewhere

    def show(i: int, record: dict, ran: bool) -> None:
        by_other = record["run_id"] not in done_before
        note = "" if ran else " (run by another process)" if by_other else " (done before; --force reruns)"
        print(f"[{i}/{len(specs)}] {summarize(record)}{note}", file=sys.stderr, flush=True)
        if ran and record["status"] == "ok":
            for path in figures_for(record, runner.results):
                print(f"    figure: {path}", file=sys.stderr)
        done[i] = record

    held = []
    for i, spec in enumerate(specs, 1):
        record, ran = runner.run(spec)
        if record is None:  # another live process owns this run: leave it to it, take its record at the end
            print(f"[{i}/{len(specs)}] {spec.method} on {spec.dataset} seed {spec.seed}: being run by "
                  f"{runner.lock(spec).describe_owner()}; its record is awaited at the end",
                  file=sys.stderr, flush=True)
            held.append((i, spec))
        else:
            show(i, record, ran)
    for i, spec in held:
        show(i, *runner.wait_for_owner(spec))
    records = [done[i] for i in sorted(done)]
    print(render(records, args.format, tune=args.tune))
    if any(r["status"] == "failed" for r in records):
        sys.exit(1)


def report_records(results: Path, reg) -> list[dict]:
    """The records under `results`, each with the legacy values of parameters its method gained
    after it filled in (the record ran at them), so that rows are labelled like today's runs,
    and with `inert_params`, those without effect at its values, which name no row."""
    from wsbench.core.params import inert, with_legacy
    from wsbench.core.records import load_records
    out = []
    for r in load_records(results):
        if r.get("method") in reg.methods:
            declared = reg.methods[r["method"]].params
            params = with_legacy(declared, r.get("params") or {})
            r = {**r, "params": params, "inert_params": sorted(inert(declared, params))}
        out.append(r)
    return out


def cmd_report(args, reg) -> None:
    from wsbench.cluster.sweepfile import load_sweep
    from wsbench.report.authors import load_crosschecks
    from wsbench.report.figures import budget_curves, figures_for
    from wsbench.report.matrix import profile_defaults
    from wsbench.report.tables import render
    results = results_dir(args.results)
    reference = Path(args.reference) if args.reference else None
    if reference is not None and not (reference / "runs").is_dir():
        raise UserError(f"--reference {reference}: no run records there (expected a results folder with runs/)")
    if args.figures:
        require_writable(results / "figures", RESULTS_FLAG)
    chosen = lambda method, dataset: ((not args.method or method in args.method)  # noqa: E731
                                      and (not args.dataset or dataset in args.dataset))
    records = [r for r in report_records(results, reg) if chosen(r["method"], r["dataset"])]
    planned = load_sweep(args.sweep, reg).specs if args.sweep else []
    if args.sweep:
        ids = {spec.run_id for spec in planned}
        records = [r for r in records if r.get("run_id") in ids]
    # with --reference: the reference's records are the table, the user's stand beside them
    beside = [r for r in report_records(reference, reg) if chosen(r["method"], r["dataset"])] if reference else None
    crosschecks = load_crosschecks(reference or results)
    if args.html:
        from wsbench.report.page import write_page
        out = Path(args.html)
        require_writable(out, "--html")
        if not records:
            raise UserError("no run records to put on the page; run `wsbench run` first or point --results elsewhere")
        absent = {}  # data sets with no row: why not
        for name in sorted(set(reg.datasets) - {r["dataset"] for r in records + (beside or [])}):
            try:
                reg.dataset(name)().require_prepared(data_root(args.data_root))
                absent[name] = "prepared here, but these records hold no run of it"
            except DataNotPrepared as err:
                absent[name] = str(err)
        planned = [s for s in planned if chosen(s.method, s.dataset)]
        page = (write_page(beside, reference, out, planned, absent, defaults=profile_defaults(reg), yours=records,
                           yours_dir=results) if reference
                else write_page(records, results, out, planned, absent, defaults=profile_defaults(reg)))
        print(f"wrote {page}")
        return
    if args.format in ("markdown", "plain", "matrix") and not args.tune:
        from wsbench.report.document import render_matrix, render_report, scored
        if records and not scored(records):
            raise UserError("only tuning runs here; `wsbench report --tune` shows them")
        table, yours = (beside, records) if reference else (records, [])
        if args.format == "matrix":
            print(render_matrix(table, profile_defaults(reg), crosschecks, yours))
        else:
            title = f"wsbench {results.name} table" + (" beside the reference" if reference else "")
            print(render_report(title, table, reference or results, profile_defaults(reg), crosschecks,
                                args.format, yours, results))
    elif reference:
        raise UserError("--reference places your rows in the markdown, plain and matrix reports and on the page "
                        "(--html), not in --tune, latex or csv")
    else:
        print(render(records, args.format, tune=args.tune, crosschecks=crosschecks))
    if args.figures:
        for record in records:
            for path in figures_for(record, results):
                print(f"wrote {path}", file=sys.stderr)
        tuning_runs = [r for r in report_records(results, reg) if r.get("tune")]  # a sweep's filter leaves them out
        for dataset in sorted({r["dataset"] for r in records}):
            tuning = [r for r in tuning_runs if r["dataset"] == dataset]
            table = [r for r in records if not r.get("tune") and r["dataset"] == dataset]
            if path := budget_curves(tuning, table, dataset, results / "figures" / f"budget-{dataset}.png"):
                print(f"wrote {path}", file=sys.stderr)


def cmd_similarity(args, reg) -> None:
    from wsbench.report.similarity import similarity_report
    results = results_dir(args.results)
    if args.restarts < 1:
        raise UserError(f"--restarts {args.restarts}: at least 1")
    out = Path(args.out) if args.out else results / "similarity" / f"{args.dataset}-seed{args.seed}"
    require_writable(out, "--out")
    text, paths = similarity_report(report_records(results, reg), results, args.dataset, args.seed, out,
                                    args.restarts)  # rows named as the report names them
    print(text)
    for path in paths:
        print(f"wrote {path}")


def cmd_verify(args, reg) -> None:
    from wsbench.core.verify import verify
    checked, problems = verify(results_dir(args.results), data_root(args.data_root), reg)
    for problem in problems:
        print(f"MISMATCH {problem}")
    print(f"verified {checked} records: {len(problems)} problem{'s' if len(problems) != 1 else ''}")
    if problems:
        sys.exit(1)


def cmd_sweep(args, reg) -> None:
    from wsbench.cluster.submit import submit
    from wsbench.cluster.sweepfile import CLUSTER_FILE, load_sweep, read_cluster_settings
    from wsbench.core.runner import writes_data_root
    sweep = load_sweep(args.file, reg)
    settings_file = Path(args.settings) if args.settings else project_root(args.project) / CLUSTER_FILE
    settings = {**read_cluster_settings(settings_file, required=bool(args.settings)),
                **sweep.cluster,
                **{k: v for k, v in vars(args).items() if k in CLUSTER_SETTINGS and v is not None}}
    results, root = require_writable(results_dir(args.results), RESULTS_FLAG), data_root(args.data_root)
    if writes_data_root(reg, sweep.specs) or not all(reg.dataset(s.dataset)().is_prepared(root) for s in sweep.specs):
        require_writable(root, DATA_FLAG)  # the stages prepare data or fit zoos there
    submitted = submit(sweep, reg, args.cluster, settings, root, results, args.device,
                       dry_run=args.dry_run, wait=args.wait, log=lambda m: print(m, file=sys.stderr, flush=True))
    if submitted and not args.dry_run and (args.wait or args.cluster != "slurm"):
        cmd_status(args, reg)


def cmd_status(args, reg) -> None:
    from collections import Counter

    from tabulate import tabulate

    from wsbench.cluster.status import run_states
    from wsbench.cluster.sweepfile import load_sweep
    rows = run_states(load_sweep(args.file, reg), results_dir(args.results))
    print(tabulate(rows, headers="keys", tablefmt="github"))
    counts = Counter(row["state"] for row in rows)
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


def zoos_from_args(args, reg):
    """The zoos of the parts `--part` names (all: train, val and test) of a recipe (the zoo
    methods' inr_* parameters) on a data set, and the data."""
    from wsbench.zoo.recipe import RECIPE, zoo_specs
    from wsbench.zoo.store import PARTS, Zoo

    cls = reg.dataset(args.dataset)
    data_params = P.resolve(cls, P.parse_assignments(args.data_param, "--data-param"))
    recipe = {key: spec.default for key, spec in RECIPE.items()}
    recipe.update(P.parse_overrides(RECIPE, P.parse_assignments(args.zoo_param, "--zoo-param"), "--zoo-param"))
    if args.part not in (*PARTS, "all"):
        raise UserError(f"--part {args.part!r}: choose train, val, test or all")
    if args.shard_size < 1:
        raise UserError(f"--shard-size {args.shard_size}: expected at least 1")
    data = cls().load(data_root(args.data_root), data_params)
    specs = zoo_specs(data, recipe, None)
    parts = PARTS if args.part == "all" else (args.part,)
    return {part: Zoo(dataclasses.replace(specs[part], shard_size=args.shard_size), data_root(args.data_root),
                      getattr(data, part), data.modality) for part in parts}, data


def cmd_zoo(args, reg) -> None:
    from tqdm import tqdm

    from wsbench.core.request import resolve_device
    if args.action == "export":
        return export_zoo_from_args(args, reg)
    if args.out or args.format:
        raise UserError("--out and --format belong to `wsbench zoo export`")
    args.part = args.part or "train"
    zoos, _ = zoos_from_args(args, reg)
    if args.shards and len(zoos) > 1:
        raise UserError("--shards names the shards of one part: give --part train, val or test")
    for zoo in zoos.values():
        if args.action == "fit":
            require_writable(data_root(args.data_root), DATA_FLAG)
            shards = P.parse_indices(args.shards, "--shards", zoo.num_shards - 1) if args.shards else None
            fitted = zoo.fit(shards, resolve_device(args.device),
                             progress=lambda it, **kw: tqdm(it, disable=None, **kw))
            print(f"fitted {len(fitted)} shards", file=sys.stderr)
        print(json.dumps(zoo.info(), indent=2))


def export_zoo_from_args(args, reg) -> None:
    from wsbench.zoo.export import export_zoo
    if not args.out or not args.format:
        raise UserError("zoo export needs --format (inr-set or nfn) and --out DIR")
    if args.part not in (None, "all"):
        raise UserError("zoo export writes the train, val and test zoos together: leave out --part")
    args.part = "all"
    zoos, data = zoos_from_args(args, reg)
    count = export_zoo(zoos, {part: getattr(data, part).y for part in zoos}, args.format, Path(args.out))
    print(f"exported {count['train']} train, {count['val']} val and {count['test']} test INRs of {data.name} "
          f"as {args.format} to {Path(args.out).resolve()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsbench", description="Benchmark of weight-space learning methods.")
    parser.add_argument("--project", help="the project folder: its methods/, datasets/ and slurm/cluster.yaml "
                                          "add to the shipped ones (default $WSBENCH_PROJECT or the working directory)")
    parser.add_argument("--data-root", help="prepared data (default $WSBENCH_DATA or ~/.cache/wsbench/data)")
    parser.add_argument("--results", help="run records (default $WSBENCH_RESULTS or ./results)")
    parser.add_argument("--plugins", action="append", default=[], metavar="DIR",
                        help="extra folder of method/data-set files (repeatable; also $WSBENCH_PLUGINS)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="methods, data sets and broken plugin files")
    p.add_argument("-v", "--verbose", action="store_true", help="also show parameters")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("prepare", help="validate and store a data set under the data root")
    p.add_argument("name")
    p.add_argument("--from", dest="source", help="local folder with the source files (else download)")
    p.add_argument("--data-param", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("run", help="run methods on data sets over seeds and print the table")
    p.add_argument("--method", action="append", help="method name (repeatable; default hyperinr)")
    p.add_argument("--dataset", action="append", help="data set name (repeatable; default digits)")
    p.add_argument("--seeds", default="1", help="a count (5 = seeds 0-4), a list (0,3) or a range (2-4)")
    p.add_argument("--profile", default="quick", help="quick (2-core CPU) or paper (GPU)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="override a method parameter")
    p.add_argument("--data-param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--force", action="store_true", help="rerun runs that already succeeded, each from nothing "
                   "(its checkpoints removed)")
    p.add_argument("--tune", action="store_true",
                   help="tuning runs: score validation only, never compute a test accuracy (in no table)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--format", default="markdown", help="markdown, latex, plain or csv")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="mean ± SE table of the stored run records")
    p.add_argument("--method", action="append", help="only these methods")
    p.add_argument("--dataset", action="append", help="only these data sets")
    p.add_argument("--sweep", metavar="FILE", help="only the runs of this sweep file")
    p.add_argument("--tune", action="store_true", help="the validation table of the tuning runs instead")
    p.add_argument("--figures", action="store_true",
                   help="also write PNG figures (latent PCA, reconstructed shapes) under RESULTS/figures")
    p.add_argument("--format", default="markdown",
                   help="markdown, latex, plain, csv or matrix (markdown and plain: the method x data set matrix, "
                        "then per data set its table and paired comparisons; matrix: the matrix alone)")
    p.add_argument("--html", metavar="DIR", help="write the results page (DIR/index.html and its images) instead")
    p.add_argument("--reference", metavar="DIR",
                   help="a reference results folder (e.g. results/reference): the records of --results stand "
                        "beside its rows, tagged (yours), compared with its runs of the same seeds and split")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("similarity", help="which methods learn the same thing: debiased CKA and the hypernetwork "
                                          "score of the embeddings kept by one seed's runs")
    p.add_argument("--dataset", default="digits", help="the data set whose runs to compare (default digits)")
    p.add_argument("--seed", type=int, default=0,
                   help="the run seed whose records to compare (default 0, the one seed whose runs keep embeddings)")
    p.add_argument("--restarts", type=int, default=3, help="hypernetworks to average the score over (default 3)")
    p.add_argument("--out", metavar="DIR", help="where the CSV and PNG files go (default "
                                                "RESULTS/similarity/<data set>-seed<S>)")
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("verify", help="recompute every record's accuracies from its stored predictions "
                                      "and check labels, data checksums and identities")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("sweep", help="submit a sweep file's missing runs through submitit")
    p.add_argument("file", help="a sweep file, e.g. slurm/sweeps/smoke.yaml")
    p.add_argument("--cluster", default="slurm", help="slurm, local (processes here) or debug (in this process)")
    p.add_argument("--dry-run", action="store_true", help="list what would be submitted")
    p.add_argument("--wait", action="store_true", help="block until the jobs end (always for local and debug)")
    p.add_argument("--device", default="auto", help="device inside the jobs: auto, cpu or cuda")
    p.add_argument("--settings", help="cluster settings file (default slurm/cluster.yaml in the project folder)")
    for key, (kind, help_) in CLUSTER_SETTINGS.items():
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, type=kind, help=help_)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("zoo", help="fit or inspect an INR zoo (one fitted SIREN per sample)")
    p.add_argument("action", choices=("fit", "info", "export"))
    p.add_argument("--dataset", default="digits")
    p.add_argument("--part", default=None, help="train, val, test or all (fit and info: train; export: all)")
    p.add_argument("--zoo-param", action="append", default=[], metavar="KEY=VALUE",
                   help="the zoo methods' recipe parameters: inr_hidden inr_w0 inr_steps inr_lr inr_psnr_stop "
                        "inr_offset inr_init inr_init_scheme inr_views inr_train_limit inr_queries inr_seed inr_compile")
    p.add_argument("--shard-size", type=int, default=1024, help="INRs per stored shard")
    p.add_argument("--data-param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--shards", help="only these shards (for workers): 0-9 or 3,4")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", help="export: inr-set (DWSNets, neural graphs, ScaleGMN) or nfn")
    p.add_argument("--out", help="export: a new folder for the exported zoo")
    p.set_defaults(func=cmd_zoo)

    p = sub.add_parser("status", help="per run of a sweep: done, failed, running, pending or unknown, with job and log")
    p.add_argument("file")
    p.set_defaults(func=cmd_status)
    return parser


def show_notice(message, category, filename, lineno, file=None, line=None) -> None:
    """wsbench's own notices as one line; other libraries' warnings as Python prints them."""
    if issubclass(category, Notice):
        print(f"wsbench: warning: {message}", file=sys.stderr)
    else:
        default_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    warnings.showwarning = show_notice
    args = build_parser().parse_args(argv)
    if args.command == "run":
        args.method = args.method or ["hyperinr"]
        args.dataset = args.dataset or ["digits"]
    try:
        args.func(args, discover(plugin_dirs(project_root(args.project), args.plugins)))
    except UserError as err:
        print(f"wsbench: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("wsbench: interrupted; finished runs keep their records, the next run redoes the rest",
              file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # the reader (head, less) stopped reading: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        sys.exit(141)
