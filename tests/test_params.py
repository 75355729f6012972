import re

import pytest

from wsbench.core.errors import UserError
from wsbench.core.params import Param, parse_assignments, parse_indices, resolve


def test_profiles_then_dataset_profile_then_overrides(registry):
    hyper = registry.method("hyperinr")
    quick = resolve(hyper, {}, profile="quick", dataset="mnist")
    digits = resolve(hyper, {}, profile="quick", dataset="digits")
    assert quick["latent_dim"] == hyper.params["latent_dim"].default
    assert digits["latent_dim"] == hyper.profiles["quick@digits"]["latent_dim"]
    over = resolve(hyper, {"latent_dim": "7", "refit_train": "yes", "lr": "1e-2"}, profile="quick", dataset="digits")
    assert over["latent_dim"] == 7 and over["refit_train"] is True and over["lr"] == 0.01


def test_profile_then_modality_profile_then_dataset_profile():
    class Toy:
        name = "toy"
        params = {"a": Param(1), "b": Param(1), "c": Param(1)}
        profiles = {"quick": {"a": 2}, "quick@pointcloud": {"a": 3, "b": 3}, "quick@modelnet40": {"b": 4}}

    assert resolve(Toy, {}, "quick", "modelnet40", "pointcloud") == {"a": 3, "b": 4, "c": 1}
    assert resolve(Toy, {}, "quick", "shapenet10", "pointcloud") == {"a": 3, "b": 3, "c": 1}
    assert resolve(Toy, {}, "quick", "modelnet40", "image") == {"a": 2, "b": 4, "c": 1}
    assert resolve(Toy, {"a": "5"}, "quick", "digits", "image") == {"a": 5, "b": 1, "c": 1}
    with pytest.raises(UserError, match=r"profile 'quick@pointcloud' sets 'd', which is not declared"):
        resolve(type("Bad", (Toy,), {"profiles": {"quick": {}, "quick@pointcloud": {"d": 1}}}), {}, "quick",
                "shapenet10", "pointcloud")


def test_unknown_parameter_is_named_with_the_declared_ones(registry):
    with pytest.raises(UserError, match=r"unknown parameter 'latnt_dim'.*latent_dim"):
        resolve(registry.method("hyperinr"), {"latnt_dim": "3"}, profile="quick")


@pytest.mark.parametrize("key,value", [("latent_dim", "big"), ("lr", "fast"), ("refit_train", "maybe")])
def test_ill_typed_parameter_is_named(registry, key, value):
    with pytest.raises(UserError, match=rf"{key}='{value}' is not a valid"):
        resolve(registry.method("hyperinr"), {key: value}, profile="quick")


def test_unknown_profile_lists_profiles(registry):
    with pytest.raises(UserError, match=r"unknown profile 'fast'; available: paper, quick"):
        resolve(registry.method("hyperinr"), {}, profile="fast")


def test_assignment_syntax():
    assert parse_assignments(["a=1", " b = x=y "], "--param") == {"a": "1", "b": "x=y"}
    with pytest.raises(UserError, match="--param 'a'"):
        parse_assignments(["a"], "--param")


def test_seed_specs():
    assert parse_indices("5", "--seeds") == [0, 1, 2, 3, 4]
    assert parse_indices("3,7", "--seeds") == [3, 7]
    assert parse_indices("2-4", "--seeds") == [2, 3, 4]
    assert parse_indices("0,5-6", "--seeds") == [0, 5, 6]
    for bad, why in (("0", "count must lie between 1"), ("x", "expected a count"), ("1-x", "expected a count"),
                     ("3-1", "descending range; write 1-3"), ("1,1", "1 appears twice"), ("", "expected a count"),
                     ("4294967296", "count must lie between 1 and 10000"), ("4294967296,0", "outside 0-4294967295"),
                     ("0-20000", "more than 10000")):
        with pytest.raises(UserError, match=f"--seeds '{bad}': .*{why}"):
            parse_indices(bad, "--seeds")
    with pytest.raises(UserError, match="--shards '9-0': 9-0 is a descending range"):
        parse_indices("9-0", "--shards", 9)
    with pytest.raises(UserError, match="--shards '12': a count must lie between 1 and 10"):
        parse_indices("12", "--shards", 9)
    with pytest.raises(UserError, match=r"--shards '0': .*number 0 alone is 0-0"):
        parse_indices("0", "--shards", 0)
    assert parse_indices("0-0", "--shards", 0) == [0]


def test_params_declare_bounds_and_refuse_what_they_cannot_parse(registry):
    hyper = registry.method("hyperinr")
    for key, value, why in (("latent_dim", "-4", "must be at least 1"), ("epochs", "0", "must be at least 1"),
                            ("hyper_hidden", "a,b", "comma-separated positive integers"),
                            ("lr", "0.0", "must be above 0"), ("query_fraction", "1.5", "must be at most 1")):
        with pytest.raises(UserError, match=f"parameter {key}='?{re.escape(value)}'? .*{why}"):
            resolve(hyper, {key: value}, profile="quick")
    for bad in (None, [32, 32], (1,)):
        with pytest.raises(TypeError, match="must be a bool, int, float or str"):
            Param(bad)
    with pytest.raises(TypeError, match="must be at least 1"):
        Param(0, low=1)
    assert Param(3, low=1, high=5).rules() == ">= 1; <= 5" and Param("a", choices=("a", "b")).rules() == "one of a, b"


def test_a_parameter_added_at_its_legacy_value_keeps_the_runs_it_was_added_to(registry):
    """Runs at the legacy value keep the identity they had before the parameter existed (so
    their records are neither renamed nor rerun); any other value is a new configuration,
    and reports read the old records as runs at the legacy value."""
    from wsbench.api import Method
    from wsbench.core.discovery import Registry
    from wsbench.core.params import with_legacy
    from wsbench.core.request import Request
    from wsbench.core.spec import plan

    class Before(Method):
        name = "m"
        params = {"width": Param(8)}
        profiles = {"quick": {}}

        def run(self, data, params, ctx):
            raise AssertionError("not run")

    class After(Before):
        params = {**Before.params, "network": Param("new", choices=("new", "old"), legacy="old")}

    def planned(method, *overrides):
        reg = Registry(methods={"m": method}, datasets={"synthetic": registry.dataset("synthetic")})
        (spec,) = plan(reg, ["m"], ["synthetic"], [0], "quick", list(overrides), [])
        return spec

    old, kept, new = planned(Before), planned(After, "network=old"), planned(After)
    assert kept.run_id == old.run_id and kept.params["network"] == "old" and kept.identity == old.identity
    assert new.run_id != old.run_id and new.identity["params"]["network"] == "new"
    sent = Request("/data", "/results", "cpu", ["/plugins"]).for_run(kept, "abc")
    assert Request.from_json(sent.to_json()).spec.run_id == old.run_id  # a job's process names it alike
    assert with_legacy(After.params, old.identity["params"]) == {"width": 8, "network": "old"}
    assert with_legacy(After.params, new.identity["params"]) == {"width": 8, "network": "new"}
    with pytest.raises(TypeError, match="legacy value .old.: must be of type int"):
        Param(1, legacy="old")
    with pytest.raises(TypeError, match="legacy value 'x' must be one of"):
        Param("new", choices=("new", "old"), legacy="x")
