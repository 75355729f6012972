"""Mixed precision and compilation in the shared classifier loop: bfloat16 products with
float32 weights, the head's embeddings from a compiled network, and fp32 as it always was."""
import pytest
import torch
from torch import nn

from wsbench.api import Param, RunContext, Optimisation, compile_module, precision_param, train_classifier
from wsbench.core.params import identity_params
from wsbench.train.precision import autocast


def classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(90, 6, generator=gen)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def train(model: nn.Module, precision: str):
    x, y = data()
    return train_classifier(model, lambda idx, gen: x[idx], y, x[:30], x[30:60], RunContext(torch.device("cpu"), 0,
                            quiet=True), epochs=3, optimisation=Optimisation(1e-2), batch_size=16, name="c",
                            precision=precision)


def test_bf16_multiplies_in_bfloat16_and_keeps_float32_weights():
    model, seen = classifier(), []
    model[2].register_forward_hook(lambda _, args, out: seen.append(out.dtype))
    result = train(model, "bf16")
    assert seen and set(seen) == {torch.bfloat16}  # training and predicting
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert len(result.val_pred) == 3 and result.embeddings["val"].dtype.name == "float32"
    assert (result.val_pred[-1] == data()[1][:30].numpy()).mean() > 0.5  # it learns, not just runs


def test_fp32_is_float32_throughout_and_an_unknown_precision_is_refused():
    model, seen = classifier(), []
    model[2].register_forward_hook(lambda _, args, out: seen.append(out.dtype))
    train(model, "fp32")
    assert set(seen) == {torch.float32}
    with pytest.raises(ValueError, match="fp16.*fp32, bf16"):
        autocast(torch.device("cpu"), "fp16")


def test_a_compiled_classifier_still_gives_the_heads_embeddings():
    """A module compiled in place does not run hooks registered after compilation; the
    embeddings pass runs eagerly, so they are the last layer's inputs all the same."""
    model = compile_module(classifier(), torch.device("cpu"))
    result = train(model, "bf16")
    assert result.embeddings["val"].shape == (30, 16) and result.embeddings["test"].shape == (30, 16)


def test_a_bare_linear_classifier_gives_its_inputs_as_embeddings():
    torch.manual_seed(0)
    result = train(nn.Linear(6, 3), "fp32")
    assert result.embeddings["val"].shape == (30, 6)
    assert (result.embeddings["val"] == data()[0][:30].numpy()).all()


def test_precision_at_fp32_leaves_a_runs_identity_as_before():
    declared = {"lr": Param(1e-3), "precision": precision_param("bf16")}
    assert identity_params(declared, {"lr": 1e-3, "precision": "fp32"}) == {"lr": 1e-3}
    assert identity_params(declared, {"lr": 1e-3, "precision": "bf16"}) == {"lr": 1e-3, "precision": "bf16"}
