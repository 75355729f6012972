"""One planner and one rule for "finished": `wsbench run` and sweep files plan the same runs
the same way, a run planned twice is refused, and run, sweep and status agree on which
runs are done. The run record is a typed model that checks what it reads."""
import json

import pytest

from wsbench.cluster.sweepfile import load_sweep
from wsbench.core.errors import UserError
from wsbench.core.records import RunRecord, current_record, finished, record_problem, write_record
from wsbench.core.request import Request
from wsbench.core.spec import RunSpec, plan


def write_sweep(tmp_path, doc: dict):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    return path


def test_a_sweep_entry_and_wsbench_run_plan_the_same_runs(tmp_path, registry):
    sweep = write_sweep(tmp_path, {"seeds": 2, "profile": "smoke", "methods": [
        {"name": "hyperinr", "params": {"latent_dim": 8}}], "datasets": [{"name": "digits"}]})
    from_file = load_sweep(sweep, registry).specs
    from_flags = plan(registry, ["hyperinr"], ["digits"], [0, 1], "smoke", ["latent_dim=8"], [])
    assert [s.run_id for s in from_file] == [s.run_id for s in from_flags] and len(from_file) == 2


def test_a_run_planned_twice_is_refused_naming_both_entries(tmp_path, registry):
    (smoke,) = plan(registry, ["hyperinr"], ["digits"], [0], "smoke", [], [])
    sweep = write_sweep(tmp_path, {"seeds": 1, "profile": "smoke", "methods": [  # the second names the profile's value
        {"name": "hyperinr"}, {"name": "hyperinr", "params": {"latent_dim": smoke.params["latent_dim"]}}],
        "datasets": ["digits"]})
    with pytest.raises(UserError, match=r"methods entry 2 \(hyperinr\) on datasets entry 1 \(digits\) plans "
                                        r"hyperinr on digits seed 0 with the same parameters as .*methods entry 1"):
        load_sweep(sweep, registry)


def test_sweep_settings_are_typed(tmp_path, registry):
    sweep = write_sweep(tmp_path, {"methods": ["hyperinr"], "datasets": ["digits"], "cluster": {"mem_gb": "lots"}})
    with pytest.raises(UserError, match=r"cluster settings: `mem_gb` must be a number or null, got 'lots'"):
        load_sweep(sweep, registry)
    sweep = write_sweep(tmp_path, {"seeds": True, "methods": ["hyperinr"], "datasets": ["digits"]})
    with pytest.raises(UserError, match=r"`seeds` must be a number or text or a list, got True"):
        load_sweep(sweep, registry)


def spec(seed: int = 0) -> RunSpec:
    return RunSpec("oracle", "synthetic", seed, "quick", {"a": 1}, {}, {"method": 1, "dataset": 1})


def test_finished_is_ok_or_skipped_of_the_current_schema(tmp_path):
    died = RunRecord.died(spec(), "killed", log="job.err")
    assert record_problem(died.to_dict()) is None and not finished(died.to_dict())
    skipped = RunRecord.begin(spec(1), status="skipped", reason="images only")
    assert finished(skipped.to_dict())
    ok = RunRecord.begin(spec(2), status="ok", heads={"z": {"val_acc": 0.5}})
    assert finished(ok.to_dict()) and not finished({**ok.to_dict(), "schema": 2}) and not finished(None)
    assert record_problem({**ok.to_dict(), "heads": {}}) == "an ok record without scored heads"
    write_record(tmp_path, ok)
    assert current_record(tmp_path, spec(2).run_id) == json.loads(json.dumps(ok.to_dict()))
    (tmp_path / "runs" / f"{spec(2).run_id}.json").write_text(json.dumps({**ok.to_dict(), "schema": 2}))
    assert current_record(tmp_path, spec(2).run_id) is None  # an older schema's: run again


def test_a_request_crosses_a_boundary_whole():
    request = Request("/data", "/results", "cpu", ["/plugins"], threads=2, quiet=True, log="x.err")
    run = request.for_run(spec(3), "abc")
    back = Request.from_json(run.to_json())
    assert back == run and back.spec.run_id == spec(3).run_id and Request.from_json(request.to_json()) == request
