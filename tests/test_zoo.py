import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

import wsbench.zoo.store as zoo_module
from wsbench.core.errors import UserError
from wsbench.inr.fields import Field
from wsbench.inr.fit import fit_inrs, query_window
from wsbench.inr.siren import SirenLayout, pixel_grid, siren_forward
from wsbench.core.params import resolve
from wsbench.zoo.store import ADDED_LATER, ZOO_VERSION, Zoo, ZooSpec


def synthetic_train(registry):
    cls = registry.dataset("synthetic")
    return cls().load(Path("/nonexistent"), resolve(cls, {"per_class": "3"})).train  # 12 images, 8x8


def spec(**over):
    return ZooSpec(**{"dataset": "synthetic", "data_checksums": {}, "part": "train", "widths": (2, 8, 8, 1),
                      "inr_steps": 30, "inr_lr": 1e-3, "shard_size": 5, **over})


def test_batched_fit_equals_one_at_a_time():
    layout = SirenLayout((2, 8, 8, 1))
    field = Field(pixel_grid(6, 6).double(), torch.rand(4, 36, 1, dtype=torch.float64), "mse")
    init = layout.init(4, torch.Generator().manual_seed(0)).double()
    batched, q = fit_inrs(layout, field, init, 25, 1e-3)
    for i in range(4):
        alone, _ = fit_inrs(layout, field.take(slice(i, i + 1)), init[i:i + 1], 25, 1e-3)
        torch.testing.assert_close(batched[i:i + 1], alone)
    start_q = fit_inrs(layout, field, init, 0, 1e-3)[1]
    assert (q > start_q).all()  # fitting improves every INR


def test_query_subsets_per_step_keep_fits_independent_of_the_batch_and_visit_every_query():
    layout = SirenLayout((3, 8, 8, 1))
    field = Field(torch.rand(4, 40, 3, dtype=torch.float64), torch.rand(4, 40, 1, dtype=torch.float64), "l1")
    init = layout.init(4, torch.Generator().manual_seed(0)).double()
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    batched, _ = fit_inrs(layout, field, init, 12, 1e-3, query_order=order, per_step=16)
    for i in range(4):
        alone, _ = fit_inrs(layout, field.take(slice(i, i + 1)), init[i:i + 1], 12, 1e-3, query_order=order,
                            per_step=16)
        torch.testing.assert_close(batched[i:i + 1], alone)
    every, _ = fit_inrs(layout, field, init, 12, 1e-3)
    assert (every - batched).abs().max() > 1e-6  # the subsets changed the fit
    windows = [query_window(order, 16, step) for step in range(5)]
    assert all(len(w) == 16 for w in windows) and set(torch.cat(windows).tolist()) == set(range(40))
    assert query_window(order, 0, 3) is None and query_window(order, 40, 3) is None


def test_early_stop_freezes_finished_inrs():
    layout = SirenLayout((2, 8, 8, 1))
    field = Field(pixel_grid(6, 6), torch.full((2, 36, 1), 0.5), "mse")
    init = layout.init(2, torch.Generator().manual_seed(1))
    loose, q_loose = fit_inrs(layout, field, init, 200, 1e-2, psnr_stop=20.0)
    tight, q_tight = fit_inrs(layout, field, init, 200, 1e-2, psnr_stop=None)
    assert (q_loose >= 20).all() and (q_tight > q_loose).all()


def test_zoo_id_depends_on_what_determines_it():
    assert spec().zoo_id == spec().zoo_id
    assert spec(inr_seed=1).zoo_id != spec().zoo_id and spec(inr_offset=0.5).zoo_id != spec().zoo_id
    assert spec(inr_init_scheme="dwsnet").zoo_id != spec().zoo_id
    assert spec(inr_queries=16).zoo_id != spec().zoo_id


def test_a_field_added_later_leaves_the_ids_of_earlier_zoos_alone():
    """inr_queries came after ZOO_VERSION 3: at its default (all queries) the id is the one
    computed without the field, so zoos fitted before it existed are still found."""
    before = {key: value for key, value in asdict(spec()).items() if key not in ADDED_LATER}
    expected = hashlib.sha256(json.dumps({**before, "version": ZOO_VERSION}, sort_keys=True).encode())
    assert spec().zoo_id == expected.hexdigest()[:16]


def test_shards_do_not_depend_on_sharding(registry, tmp_path):
    train = synthetic_train(registry)
    a = Zoo(spec(shard_size=5, inr_psnr_stop=None), tmp_path, train, "image")
    b = Zoo(spec(shard_size=12, inr_psnr_stop=None), tmp_path, train, "image")
    a.fit(), b.fit()
    np.testing.assert_allclose(a.load()["weights"], b.load()["weights"], atol=1e-6)


def test_killed_fit_resumes_at_missing_shards(registry, tmp_path, monkeypatch):
    train = synthetic_train(registry)
    zoo = Zoo(spec(), tmp_path, train, "image")
    assert zoo.num_shards == 3
    calls = []
    real = zoo_module.fit_in_chunks

    def dies_on_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill midway through shard 1
        return real(*args, **kw)
    monkeypatch.setattr(zoo_module, "fit_in_chunks", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        zoo.fit()
    assert zoo.missing() == [1, 2]
    first = zoo.shard_path(0).stat().st_mtime_ns
    monkeypatch.setattr(zoo_module, "fit_in_chunks", real)
    assert zoo.fit() == [1, 2]
    assert zoo.shard_path(0).stat().st_mtime_ns == first
    got = zoo.load()
    assert got["weights"].shape == (12, zoo.spec.layout.num_params) and list(got["sample"]) == list(range(12))


def test_a_shard_another_worker_finished_meanwhile_is_not_refitted(registry, tmp_path):
    train = synthetic_train(registry)
    zoo, other = Zoo(spec(), tmp_path, train, "image"), Zoo(spec(), tmp_path, train, "image")

    def progress(todo, **kw):
        for k in todo:
            if k == 1:
                assert other.fit([2]) == [2]  # a second worker finishes shard 2 while this one is at shard 1
            yield k
    written = other.shard_path(2)
    assert zoo.fit(progress=progress) == [0, 1]
    assert zoo.missing() == [] and written.exists()


def test_corrupt_shard_is_detected_and_refitted(registry, tmp_path):
    zoo = Zoo(spec(), tmp_path, synthetic_train(registry), "image")
    zoo.fit()
    good = zoo.load()["weights"]
    raw = bytearray(zoo.shard_path(2).read_bytes())
    raw[-100] ^= 0xFF
    zoo.shard_path(2).write_bytes(bytes(raw))
    assert zoo.missing() == [2]
    with pytest.raises(UserError, match="lacks 1 of 3 shards"):
        zoo.load()
    assert zoo.fit() == [2]
    np.testing.assert_allclose(zoo.load()["weights"], good)


def test_views_refit_each_sample_from_different_inits(registry, tmp_path):
    zoo = Zoo(spec(inr_views=2, inr_steps=5), tmp_path, synthetic_train(registry), "image")
    zoo.fit()
    got = zoo.load()
    assert len(got["weights"]) == 24 and sorted(set(got["view"])) == [0, 1]
    assert not np.allclose(got["weights"][got["view"] == 0], got["weights"][got["view"] == 1])


def test_zoo_cli_fits_then_reports(dirs, cli):
    args = ("--dataset", "synthetic", "--zoo-param", "inr_hidden=8,8", "--zoo-param", "inr_steps=5",
            "--shard-size", "50")
    code, out, err = cli("zoo", "info", *args)
    assert code == 0 and '"shards_done": 0' in out and '"shards": 2' in out
    code, out, err = cli("zoo", "fit", *args, "--shards", "1")
    assert code == 0 and '"shards_done": 1' in out
    code, out, err = cli("zoo", "fit", *args)
    assert code == 0 and "fitted 1 shards" in err and '"shards_done": 2' in out
    code, _, err = cli("zoo", "info", "--dataset", "synthetic", "--zoo-param", "steps=5")
    assert code == 2 and "--zoo-param: unknown parameter 'steps'" in err and "inr_steps" in err


def test_fit_matches_torch_adam_and_early_stop_matches_fitting_alone():
    layout = SirenLayout((2, 8, 8, 1))
    field = Field(pixel_grid(6, 6).double(), torch.rand(3, 36, 1, dtype=torch.float64), "mse")
    init = layout.init(3, torch.Generator().manual_seed(2)).double()
    w = init[:1].clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=1e-2)
    for _ in range(15):
        opt.zero_grad()
        field.take(slice(0, 1)).per_sample_loss(siren_forward(layout, w, field.coords), field.values[:1]).sum().backward()
        opt.step()
    torch.testing.assert_close(fit_inrs(layout, field.take(slice(0, 1)), init[:1], 15, 1e-2)[0], w.detach())
    # INRs leave the batch at different steps; each ends as if fitted alone
    stop = float(fit_inrs(layout, field, init, 40, 1e-2)[1].median())
    batched, q = fit_inrs(layout, field, init, 80, 1e-2, psnr_stop=stop)
    for i in range(3):
        alone, _ = fit_inrs(layout, field.take(slice(i, i + 1)), init[i:i + 1], 80, 1e-2, psnr_stop=stop)
        torch.testing.assert_close(batched[i:i + 1], alone)


def test_zoo_init_scheme_reaches_the_fit_and_bad_scheme_is_named(registry, tmp_path):
    zoo = Zoo(spec(inr_init_scheme="dwsnet"), tmp_path, synthetic_train(registry), "image")
    init = zoo.init_weights(zoo.items[:3])
    biases = torch.cat([b for _, b in zoo.spec.layout.unflatten(init)], 1)
    assert biases.abs().max() == 0 and init.abs().max() <= (6 / 2) ** 0.5 / 30
    with pytest.raises(UserError, match="init_scheme 'he'"):
        Zoo(spec(inr_init_scheme="he"), tmp_path, synthetic_train(registry), "image")


def test_independent_inits_differ_between_parts_and_a_shared_init_does_not(registry, tmp_path):
    """Validation INR i must not start from the weights of training INR i."""
    split = synthetic_train(registry)
    inits = {part: Zoo(spec(part=part), tmp_path, split, "image").init_weights([(0, 0), (1, 0)])
             for part in ("train", "val", "test")}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not torch.allclose(inits[a][0], inits[b][0]), (a, b)
    assert not torch.allclose(inits["train"][0], inits["train"][1])
    shared = {part: Zoo(spec(part=part, inr_init="shared"), tmp_path, split, "image").init_weights([(0, 0)])
              for part in ("train", "val")}
    torch.testing.assert_close(shared["train"], shared["val"])
    with pytest.raises(UserError, match="zoo part 'dev'"):
        Zoo(spec(part="dev"), tmp_path, split, "image")


def test_zoo_export_writes_what_the_authors_loaders_read(registry, dirs, cli, tmp_path):
    """inr-set: state dicts in layer order with the label, splits.json with absolute paths,
    per-entry train statistics; nfn: wsbench_<label>s/net<index>.pth and the split points.
    Read back by those layouts' rules, the weights and labels are the zoo's."""
    import torch
    recipe = ("--dataset", "synthetic", "--zoo-param", "inr_hidden=8,8", "--zoo-param", "inr_steps=3")
    assert cli("zoo", "export", *recipe, "--format", "inr-set", "--out", str(tmp_path / "early"))[0] == 2
    assert cli("zoo", "fit", *recipe, "--part", "all")[0] == 0
    code, out, _ = cli("zoo", "export", *recipe, "--format", "inr-set", "--out", str(tmp_path / "set"))
    assert code == 0 and "exported 80 train, 80 val and 80 test INRs" in out
    assert cli("zoo", "export", *recipe, "--format", "nfn", "--out", str(tmp_path / "nfn"))[0] == 0
    _, info, _ = cli("zoo", "info", *recipe, "--part", "test")
    data = registry.dataset("synthetic")().load(dirs[0], resolve(registry.dataset("synthetic"), {}))
    shards = sorted(Path(json.loads(info)["folder"]).glob("*.npz"))
    zoo_weights = np.concatenate([np.load(p)["weights"] for p in shards])

    splits = json.loads((tmp_path / "set" / "splits.json").read_text())
    assert [len(splits[p]["label"]) for p in ("train", "val", "test")] == [80, 80, 80]
    assert splits["test"]["label"] == data.test.y.tolist()
    sd = torch.load(splits["test"]["path"][7])
    assert list(sd) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight",
                        "layers.2.bias", "label"]
    assert sd["layers.1.weight"].shape == (8, 8) and int(sd["label"]) == data.test.y[7]
    flat = torch.cat([v.flatten() for k, v in sd.items() if k != "label"]).numpy()
    np.testing.assert_array_equal(flat, zoo_weights[7])
    stats = torch.load(tmp_path / "set" / "statistics.pth")
    assert [t.shape for t in stats["weights"]["mean"]] == [(2, 8, 1), (8, 8, 1), (8, 1, 1)]
    assert [t.shape for t in stats["biases"]["std"]] == [(8, 1), (8, 1), (1, 1)]

    # the side-by-side normalises the authors' run by each weight matrix's and bias vector's
    # mean and std over the train zoo, as the zoo's statistics do
    from crosscheck.side_by_side import layer_statistics
    _, train_info, _ = cli("zoo", "info", *recipe, "--part", "train")
    train = np.concatenate([np.load(p)["weights"] for p in sorted(Path(json.loads(train_info)["folder"]).glob("*.npz"))])
    sizes = [size for o, i in ((8, 2), (8, 8), (1, 8)) for size in (o * i, o)]
    blocks = np.split(train.astype(np.float64), np.cumsum(sizes)[:-1], axis=1)
    side = layer_statistics(tmp_path / "set")
    np.testing.assert_allclose(side["weights_mean"], [b.mean() for b in blocks[0::2]], rtol=1e-6)
    np.testing.assert_allclose(side["biases_std"], [b.std(ddof=1) for b in blocks[1::2]], rtol=1e-6)

    val_start, test_start = json.loads((tmp_path / "nfn" / "split_points.json").read_text())
    assert (val_start, test_start) == (80, 160)
    nets = {int(p.stem[3:]): p for p in (tmp_path / "nfn").glob("wsbench_*s/net*.pth")}
    assert sorted(nets) == list(range(240))
    assert nets[test_start + 7].parent.name == f"wsbench_{int(data.test.y[7])}s"
    assert "label" not in torch.load(nets[test_start + 7])

    code, _, err = cli("zoo", "export", *recipe, "--format", "inr-set", "--out", str(tmp_path / "set"))
    assert code == 2 and "exists and is not an empty folder" in err and (tmp_path / "set" / "splits.json").exists()
    code, _, err = cli("zoo", "export", *recipe, "--format", "csv", "--out", str(tmp_path / "x"))
    assert code == 2 and "--format 'csv'" in err


def test_zoo_help_names_every_recipe_parameter():
    from wsbench.cli import build_parser
    from wsbench.zoo.recipe import RECIPE
    zoo_help = build_parser()._subparsers._group_actions[0].choices["zoo"].format_help()
    assert [key for key in RECIPE if key not in zoo_help] == []
