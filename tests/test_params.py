import pytest

from wsbench.core.errors import UserError
from wsbench.core.params import parse_assignments, resolve
from wsbench.core.runner import parse_seeds


def test_profiles_then_dataset_profile_then_overrides(registry):
    hyper = registry.method("hyperinr")
    quick = resolve(hyper, {}, profile="quick", dataset="mnist")
    digits = resolve(hyper, {}, profile="quick", dataset="digits")
    assert quick["latent_dim"] == hyper.params["latent_dim"].default
    assert digits["latent_dim"] == hyper.profiles["quick@digits"]["latent_dim"]
    over = resolve(hyper, {"latent_dim": "7", "refit_train": "yes", "lr": "1e-2"}, profile="quick", dataset="digits")
    assert over["latent_dim"] == 7 and over["refit_train"] is True and over["lr"] == 0.01


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
    assert parse_seeds("5") == [0, 1, 2, 3, 4]
    assert parse_seeds("3,7") == [3, 7]
    assert parse_seeds("2-4") == [2, 3, 4]
    for bad in ("0", "x", "1-x"):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)
