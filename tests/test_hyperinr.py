"""HyperINR behaviour: it learns, and a run resumed from its checkpoints equals an uninterrupted one."""
from pathlib import Path

import numpy as np
import pytest
import torch

from wsbench.core import reconstruction
from wsbench.core.context import RunContext
from wsbench.core.params import resolve
from wsbench.core.protocol import score_head, seed_everything


def run(registry, ctx, **over):
    cls = registry.method("hyperinr")
    params = resolve(cls, {k: str(v) for k, v in over.items()}, profile="smoke", dataset="synthetic")
    data = registry.dataset("synthetic")().load(Path("/nonexistent"), resolve(registry.dataset("synthetic"), {}))
    seed_everything(ctx.seed)
    return cls().run(data.blind(), params, ctx), data


def test_hyperinr_learns_synthetic_classes(registry):
    out, data = run(registry, RunContext(torch.device("cpu"), 0, quiet=True),
                    siren_hidden="32,32", latent_dim=16, hyper_hidden=64, epochs=60, batch_size=16,
                    query_fraction=1.0, fit_steps=50, head_epochs=30)
    accs = {h: score_head(h, r, data.val.y.numpy(), data.test.y.numpy(), 4)[0]["test_acc"]
            for h, r in out.heads.items()}
    assert max(accs.values()) > 0.6, accs  # 4 classes: chance is 0.25
    metrics, _ = reconstruction.score(out.reconstruction, data.test, "image", torch.device("cpu"))
    assert metrics["psnr_test"] > 12


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("encoder,stage", [(False, "autodecoder"), (True, "encoder")])
def test_resume_from_checkpoints_matches_an_uninterrupted_run(registry, tmp_path, monkeypatch, encoder, stage):
    """Killed after epoch 2 of its representation stage (the auto-decoder, or Egri's
    encoder), a run resumes there and ends exactly as an uninterrupted one."""
    full, _ = run(registry, RunContext(torch.device("cpu"), 3, quiet=True), epochs=4, encoder=encoder)
    ckpt = tmp_path / "ckpt"
    original = RunContext.save_state

    def save_then_die(self, name, state):
        original(self, name, state)
        if name == stage and state["done"] == 2:
            raise Interrupt
    monkeypatch.setattr(RunContext, "save_state", save_then_die)
    with pytest.raises(Interrupt):
        run(registry, RunContext(torch.device("cpu"), 3, quiet=True, checkpoint_dir=ckpt), epochs=4, encoder=encoder)
    monkeypatch.setattr(RunContext, "save_state", original)
    assert (ckpt / f"{stage}.pt").is_file()
    resumed, _ = run(registry, RunContext(torch.device("cpu"), 3, quiet=True, checkpoint_dir=ckpt), epochs=4,
                     encoder=encoder)
    torch.testing.assert_close(resumed.reconstruction.test_weights, full.reconstruction.test_weights)
    for head in full.heads:
        assert all(np.array_equal(a, b) for a, b in zip(full.heads[head].test_pred, resumed.heads[head].test_pred))
