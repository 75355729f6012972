"""A user's plugin edited after a failed run: the failure names its defect, the edited code
never resumes the old code's checkpoints (with or without --force), and the record names
the plugin file's sha256."""
import hashlib
import os

from conftest import records, run_subprocess

# A method from the manual's example whose features are a stage result (kept in the run's
# checkpoints); BUG is replaced by the line under test.
PLUGIN = '''
import torch

from wsbench.api import Method, MethodOutput, Param, stage_result, train_feature_head


class Cached(Method):
    name = "cached-projection"
    version = 1
    description = "pixels on a random basis, kept as a stage result, then an MLP head"
    modalities = ("image",)
    params = {"dim": Param(8, "features per image", low=1)}
    profiles = {"quick": {}, "paper": {}, "smoke": {}}

    def run(self, data, params, ctx):
        def project():
            basis = torch.randn(data.train.x[0].numel(), params["dim"],
                                generator=torch.Generator().manual_seed(ctx.seed))
            features = {s: getattr(data, s).x.flatten(1) @ basis for s in ("train", "val", "test")}
            BUG
            return features
        features = stage_result(ctx, "features", project)
        head = train_feature_head(features["train"], data.train.y, features["val"], features["test"],
                                  data.num_classes, ctx, hidden="16", epochs=2, name="head")
        return MethodOutput(heads={"projection": head})
'''
NAN = 'features["val"][:3, :4] = float("nan")'
FIXED = "pass"


def test_an_edited_plugin_starts_afresh_and_its_record_names_its_code(tmp_path, dirs):
    _, results = dirs
    plugin = tmp_path / "project" / "methods" / "cached.py"
    plugin.parent.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(bug: str, *flags: str):
        plugin.write_text(PLUGIN.replace("BUG", bug))
        proc = run_subprocess(["--project", str(plugin.parent.parent), "run", "--method", "cached-projection",
                               "--dataset", "synthetic", "--device", "cpu", *flags], env, timeout=300)
        (record,) = records(results)
        return proc, record

    proc, record = run(NAN)
    assert proc.returncode == 1 and record["status"] == "failed"
    assert record["error"] == "protocol violation: val features of head 'head' hold NaN (12 of 640 values)"  # 80 samples, 8 features
    assert "Traceback" not in proc.stderr
    checkpoints = results / "checkpoints" / record["run_id"]
    assert (checkpoints / "features.pt").is_file()

    proc, _ = run(NAN)  # the same code resumes its own checkpoints
    assert f"resuming features from {checkpoints / 'features.pt'}" in proc.stderr

    proc, record = run(NAN, "--force")  # --force starts from nothing
    assert "resuming" not in proc.stderr and record["status"] == "failed"

    proc, record = run(FIXED)  # edited, without --force: the old code's checkpoints are not resumed
    assert proc.returncode == 0, proc.stderr
    assert (f"checkpoints of {record['run_id']} were written by other code (methods/cached.py changed): "
            f"starting afresh") in proc.stderr
    assert "resuming" not in proc.stderr and record["status"] == "ok"
    assert record["provenance"]["plugins"] == {
        "method": {"file": "methods/cached.py", "sha256": hashlib.sha256(plugin.read_bytes()).hexdigest()},
        "dataset": {"file": "datasets/synthetic.py", "sha256": record["provenance"]["plugins"]["dataset"]["sha256"]}}
    assert not checkpoints.exists()  # an ok run keeps none

    run(NAN, "--force")  # a failed run leaves checkpoints again ...
    assert checkpoints.is_dir()
    proc, record = run(FIXED, "--force")  # ... that the fixed plugin, forced, does not resume
    assert proc.returncode == 0 and record["status"] == "ok", proc.stderr
    assert "resuming" not in proc.stderr and "starting afresh" not in proc.stderr
