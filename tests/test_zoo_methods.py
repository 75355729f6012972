"""The zoo-classifier adapters (dwsnet, nfn, neural-graph, flat-mlp) and what they share."""
import json

import numpy as np
import pytest
import torch

from conftest import records
from wsbench.inr.siren import SirenLayout, pixel_grid, siren_forward
from wsbench.core.params import resolve
from wsbench.report.tables import aggregate
from wsbench.models.symmetry import permute_hidden
from wsbench.zoo.store import Zoo
from wsbench.models.symmetry import affine_augment
from wsbench.zoo.recipe import zoo_specs

LAYOUT = SirenLayout((2, 16, 16, 1))


@pytest.mark.parametrize("name,invariant", [("dwsnet", True), ("nfn", True), ("neural-graph", True),
                                            ("flat-mlp", False)])
def test_adapter_networks_see_through_neuron_permutations(registry, name, invariant):
    cls = registry.method(name)
    model = cls().build(LAYOUT, 10, resolve(cls, {}, profile="quick")).double().eval()
    flat = LAYOUT.init(6, torch.Generator().manual_seed(0)).double() * 3
    moved = permute_hidden(LAYOUT, flat, torch.Generator().manual_seed(1))
    x = pixel_grid(5, 5).double()
    torch.testing.assert_close(siren_forward(LAYOUT, moved, x), siren_forward(LAYOUT, flat, x))  # same functions
    with torch.no_grad():
        gap = (model(moved) - model(flat)).abs().max().item()
    assert gap < 1e-5 if invariant else gap > 1e-3


def test_affine_augmentation_is_the_inr_of_the_moved_signal():
    flat = LAYOUT.init(4, torch.Generator().manual_seed(2)).double()
    moved = affine_augment(LAYOUT, flat, torch.Generator().manual_seed(3))
    x = pixel_grid(7, 7).double()
    # recover each sample's A and t from the first layer: W A = W', W t + b = b'
    o, d = LAYOUT.widths[1], 2
    w, w2 = flat[:, :o * d].reshape(4, o, d), moved[:, :o * d].reshape(4, o, d)
    a = torch.linalg.lstsq(w, w2).solution
    t = torch.linalg.lstsq(w, (moved[:, o * d:o * d + o] - flat[:, o * d:o * d + o])[:, :, None]).solution
    assert not torch.allclose(a, torch.eye(2, dtype=a.dtype).expand_as(a))
    mapped = x[None] @ a.transpose(1, 2) + t.transpose(1, 2)  # A x + t, for row vectors
    torch.testing.assert_close(siren_forward(LAYOUT, moved, x), siren_forward(LAYOUT, flat, mapped))
    assert torch.equal(moved[:, o * d + o:], flat[:, o * d + o:])  # later layers untouched


def test_zoo_is_fitted_once_and_shared_by_seeds_and_methods(dirs, cli, registry):
    data_root, results = dirs
    base = ("run", "--dataset", "synthetic", "--profile", "smoke", "--quiet")
    assert cli(*base, "--method", "dwsnet", "--seeds", "2")[0] == 0
    zoo_dirs = sorted((data_root / "zoos").iterdir())
    assert len(zoo_dirs) == 3  # train, val, test
    stamps = {p: p.stat().st_mtime_ns for d in zoo_dirs for p in d.glob("shard-*.npz")}
    assert cli(*base, "--method", "flat-mlp")[0] == 0
    assert {p: p.stat().st_mtime_ns for d in zoo_dirs for p in d.glob("shard-*.npz")} == stamps
    recs = sorted(records(results), key=lambda r: (r["method"], r["seed"]))
    assert [r["method"] for r in recs] == ["dwsnet", "dwsnet", "flat-mlp"] and all(r["status"] == "ok" for r in recs)
    fit_seconds = [r["cost"]["stages"]["fit_zoo"]["wall_s"] for r in recs]
    assert fit_seconds[1] < fit_seconds[0] / 5 and fit_seconds[2] < fit_seconds[0] / 5  # only the first fitted
    # ... yet every run carries the zoo's whole fitting cost, counted once in its pipeline time
    shared = [r["cost"]["shared"] for r in recs]
    assert len(shared[0]) == 3 and shared[0].keys() == shared[1].keys() == shared[2].keys()
    zoo_wall = sum(z["wall_s"] for z in shared[0].values())
    assert zoo_wall > 0 and sum(z["wall_s"] for z in shared[1].values()) == zoo_wall
    assert sum(z["here_wall_s"] for z in shared[0].values()) > 0.8 * zoo_wall  # the first run fitted it
    assert all(z["here_wall_s"] < 0.2 * zoo_wall for z in shared[1].values())
    for r in recs:
        cost = r["cost"]
        assert cost["pipeline_wall_s"] == pytest.approx(
            cost["wall_s"] - sum(z["here_wall_s"] for z in cost["shared"].values()) + zoo_wall, abs=2e-3)
        assert cost["pipeline_wall_s"] > zoo_wall
    row = aggregate(recs[:2]).iloc[0]
    assert row.zoo == "one for all seeds" and row.shared_s == pytest.approx(zoo_wall)
    assert recs[0]["metrics"]["psnr_test"] > 5
    # the training zoo carries its weight statistics: one mean and std per weight matrix and bias
    data = registry.dataset("synthetic")().load(data_root, resolve(registry.dataset("synthetic"), {}))
    assert recs[0]["metrics"]["train_inrs"] == len(data.train)
    spec = zoo_specs(data, resolve(registry.method("dwsnet"), {}, profile="smoke"), 0)["train"]
    stats = json.loads((data_root / "zoos" / spec.zoo_id / "statistics.json").read_text())
    assert [t["name"] for t in stats["tensors"]] == ["W0", "b0", "W1", "b1", "W2", "b2"]
    weights = Zoo(spec, data_root, data.train, "image").load()["weights"]
    assert stats["tensors"][0]["mean"] == pytest.approx(weights[:, :spec.widths[1] * 2].mean(), abs=1e-6)


def test_normalisation_commutes_with_neuron_permutations(registry, tmp_path):
    data = registry.dataset("synthetic")().load(tmp_path, resolve(registry.dataset("synthetic"), {}))
    spec = zoo_specs(data, resolve(registry.method("nfn"), {}, profile="smoke"), 0)["val"]
    zoo = Zoo(spec, tmp_path, data.val, "image")
    zoo.fit()
    mean, std = torch.from_numpy(zoo.statistics())
    flat = torch.from_numpy(zoo.load()["weights"])
    gen = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    layout = spec.layout
    torch.testing.assert_close(permute_hidden(layout, (flat - mean) / std, gen()),
                               (permute_hidden(layout, flat, gen()) - mean) / std)
    assert not np.allclose(std.numpy(), std.numpy()[0])  # the layers do differ


@pytest.mark.parametrize("network", ["wsbench", "authors", "authors std"])
def test_scalegmn_ignores_sign_flips_through_the_whole_pipeline(network, registry, tmp_path):
    """Zoo statistics, the method's normalisation and its network (wsbench's, or the authors'
    behind their phase fold): flipping the signs (and permuting) the hidden neurons of the raw
    INRs leaves ScaleGMN's logits as they were; a centring normalisation would not keep them
    (the negative control)."""
    from wsbench.models.symmetry import flip_signs
    data = registry.dataset("synthetic")().load(tmp_path, resolve(registry.dataset("synthetic"), {}))
    network, _, scale = network.partition(" ")
    params = resolve(registry.method("scalegmn"), {"network": network, **({"input_scale": scale} if scale else {})},
                     profile="smoke")
    spec = zoo_specs(data, params, 0)["val"]
    zoo = Zoo(spec, tmp_path, data.val, "image")
    zoo.fit()
    stats = torch.from_numpy(zoo.statistics()).double()
    raw = torch.from_numpy(zoo.load()["weights"]).double()
    gen = torch.Generator().manual_seed(5)
    flipped = permute_hidden(spec.layout, flip_signs(spec.layout, raw, gen), gen)
    method = registry.method("scalegmn")()
    torch.manual_seed(0)
    model = method.build(spec.layout, data.num_classes, params).double().eval()
    if scale:
        model.divide_by(stats[1])  # what the plugin's train does first (the next test)
    normalise = method.normaliser(stats, torch.device("cpu"), params)
    torch.testing.assert_close(model(normalise(flipped)), model(normalise(raw)), atol=1e-5, rtol=0)
    dwsnet_params = resolve(registry.method("dwsnet"), {}, profile="smoke")  # it centres the weights
    centring = registry.method("dwsnet")().normaliser(stats, torch.device("cpu"), dwsnet_params)
    assert (model(centring(flipped)) - model(centring(raw))).abs().max() > 1e-4


def test_scalegmn_input_scale_std_divides_the_folded_input_by_the_training_zoos_std(registry, monkeypatch):
    """input_scale=std hands the shared training loop the authors' network dividing by the
    training zoo's per-tensor std; the raw input (the default) leaves it as the authors' model."""
    from wsbench.inr.siren import SirenLayout
    from wsbench.zoo.method import ZooMethod
    trained = []
    monkeypatch.setattr(ZooMethod, "train", lambda self, model, *args: trained.append(model))
    cls, layout = registry.method("scalegmn"), SirenLayout((2, 8, 8, 1))
    stats = torch.stack([torch.zeros(layout.num_params), torch.linspace(0.01, 1.0, layout.num_params)])
    for scale in ("raw", "std"):
        params = resolve(cls, {"network": "authors", "input_scale": scale}, profile="smoke")
        cls().train(cls().build(layout, 10, params), layout, stats, {}, None, params, None)
    assert trained[0].divisor is None and torch.equal(trained[1].divisor, stats[1])


def test_neural_graph_authors_network_reads_standardised_weights_and_trains_their_way(registry):
    """network=authors builds the authors' PNA, feeds it the weights standardised per tensor
    (their graph constructor's normalisation) and trains it with AMSGrad AdamW, warm-up and
    clipping; the legacy value keeps wsbench's network on the same standardised input."""
    from wsbench.api import NeuralGraph, NeuralGraphPNA
    from wsbench.inr.siren import SirenLayout
    cls = registry.method("neural-graph")
    layout = SirenLayout((2, 8, 8, 1))
    flat = layout.init(5, torch.Generator().manual_seed(0))
    stats = torch.stack([flat.mean(0), flat.std(0)])
    for network, model_type in (("authors", NeuralGraphPNA), ("wsbench", NeuralGraph)):
        params = resolve(cls, {"network": network}, profile="smoke")
        assert isinstance(cls().build(layout, 10, params), model_type)
        torch.testing.assert_close(cls().normaliser(stats, torch.device("cpu"), params)(flat),
                                   (flat - stats[0]) / stats[1])
    spec = cls().optimisation(resolve(cls, {"network": "authors"}, profile="paper"))
    assert (spec.optimiser, spec.amsgrad, spec.schedule, spec.warmup_steps, spec.clip_norm) == \
        ("adamw", True, "warmup", 1000, 10.0)
    assert resolve(cls, {}, profile="paper")["augment"] == "kofinas"

ZOO_METHODS = ["dwsnet", "flat-mlp", "neural-graph", "nfn", "scalegmn"]


@pytest.mark.parametrize("dataset", ["modelnet40", "shapenet10", "scannet10"])
def test_zoo_methods_share_one_udf_zoo_on_shapes_and_one_image_zoo_elsewhere(registry, dataset):
    """On shapes every zoo method's quick profile is the UDF zoo (no +0.5 offset, no PSNR
    stop, a subset of queries per step); on images DWSNet's set. Each is one recipe for all."""
    from wsbench.zoo.recipe import RECIPE
    recipes = {}
    for data in (dataset, "mnist"):
        modality = registry.dataset(data).modality
        recipes[data] = {json.dumps({k: v for k, v in resolve(registry.method(name), {}, "quick", data,
                                                                modality).items() if k in RECIPE},
                                    sort_keys=True) for name in ZOO_METHODS}
        assert len(recipes[data]) == 1, data
    shapes, images = (json.loads(next(iter(recipes[d]))) for d in (dataset, "mnist"))
    assert shapes["inr_offset"] == 0 and shapes["inr_psnr_stop"] == 0 and shapes["inr_queries"] > 0
    assert images["inr_offset"] == 0.5 and images["inr_init_scheme"] == "dwsnet" and images["inr_queries"] == 0


def test_a_point_cloud_set_gets_the_udf_zoo_by_its_modality_not_by_its_name(registry):
    """A data set no method names, planned as a run is: its quick zoo is the one of every
    point-cloud set, and the image sets' stays DWSNet's."""
    from wsbench.core.discovery import Registry
    from wsbench.core.spec import plan
    from wsbench.zoo.recipe import RECIPE

    class MyScans(registry.dataset("shapenet10")):
        name = "my-scans"
    reg = Registry(methods=registry.methods, datasets={**registry.datasets, MyScans.name: MyScans})
    for name in ZOO_METHODS:
        zoo = {s.dataset: {k: s.params[k] for k in RECIPE}
               for s in plan(reg, [name], ["my-scans", "modelnet40", "mnist"], [0], "quick", [], [])}
        assert zoo["my-scans"] == zoo["modelnet40"] != zoo["mnist"], name
        assert zoo["my-scans"]["inr_queries"] > 0 and zoo["mnist"]["inr_offset"] == 0.5, name


def test_a_zoo_method_merges_its_own_params_and_profiles_with_the_zoos():
    """`params` and `profiles` a subclass declares are kept beside (and win over) the zoo
    recipe's, the training loop's and the zoo's quick profiles, also one subclass further down."""
    from wsbench.core.params import Param
    from wsbench.zoo.method import TRAIN_PARAMS, ZooMethod
    from wsbench.zoo.recipe import QUICK_UDF_ZOO, QUICK_ZOO, RECIPE

    class Mine(ZooMethod):
        name = "mine"
        model_params = {"width": Param(8, "network width", low=1)}
        params = {"depth": Param(2, "network depth", low=1), "epochs": Param(3, "fewer epochs", low=1)}
        profiles = {"quick": {"depth": 3}, "quick@pointcloud": {"epochs": 9}, "smoke": {"epochs": 1}}

    assert set(Mine.params) == {*RECIPE, *TRAIN_PARAMS, "width", "depth"}
    assert Mine.params["epochs"].default == 3 and Mine.params["inr_steps"] is RECIPE["inr_steps"]
    assert Mine.profiles == {"quick": {**QUICK_ZOO, "depth": 3}, "quick@pointcloud": {**QUICK_UDF_ZOO, "epochs": 9},
                             "smoke": {"epochs": 1}}
    on_shapes = resolve(Mine, {}, "quick", "modelnet40", "pointcloud")
    assert on_shapes["epochs"] == 9 and on_shapes["depth"] == 3 and on_shapes["inr_queries"] == 512

    class Yours(Mine):
        params = {"depth": Param(5, "deeper", low=1)}
        profiles = {"quick": {"width": 4}}

    assert set(Yours.params) == set(Mine.params) and Yours.params["depth"].default == 5
    assert Yours.profiles["quick"] == {**QUICK_ZOO, "depth": 3, "width": 4}
    assert ZooMethod.params == {**RECIPE, **TRAIN_PARAMS} and "depth" not in ZooMethod.profiles["quick"]


def test_an_adapter_offering_the_authors_network_must_say_how_they_train_it():
    """A zoo method with `network=authors` among its choices but no authors_optimisation is
    refused when its class is made, not at the first step of a run."""
    from wsbench.api import Param, ZooMethod
    with pytest.raises(TypeError, match="authors_optimisation"):
        type("Untrained", (ZooMethod,), {"name": "untrained", "build": lambda self, *a: None, "model_params": {
            "network": Param("wsbench", "which network", choices=("authors", "wsbench"))}})
