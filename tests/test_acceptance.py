"""Acceptance criteria: parsing, hashing, judging; the demotion rule as a pure function."""

from __future__ import annotations

import math

import pytest

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.evaluation.acceptance import check_record, frozen_record, judge, parse_criterion
from medtorch.evaluation.development import development_config, development_fingerprint
from medtorch.registry.roles import HOLD_OUT, SECOND_STAGE, decide_role


def test_parse_and_judge():
    c = [parse_criterion("mcc_lower_ci >= 0.6"), parse_criterion(" max_subgroup_mcc_gap<=0.15 "), parse_criterion("auroc > 0.9")]
    res = judge(c, {"mcc_lower_ci": 0.55, "max_subgroup_mcc_gap": 0.1, "auroc": math.nan})
    assert [r["passed"] for r in res] == [False, True, False]
    assert res[0]["margin"] == pytest.approx(-0.05) and res[0]["observed"] == 0.55
    assert res[2]["observed"] is None and "could not be observed" in res[2]["note"]  # unobservable fails
    with pytest.raises(MedtorchError, match="unknown quantity 'mcc_lower'"):
        parse_criterion("mcc_lower >= 0.6")
    with pytest.raises(MedtorchError, match="not of the form"):
        parse_criterion("mcc >= high")


def test_frozen_record_detects_edits():
    rec = frozen_record("x", ["mcc >= 0.5"], "2026-01-01T00:00:00Z")
    assert [c.text for c in check_record(rec, "here")] == ["mcc >= 0.5"]
    rec["criteria"][0]["threshold"] = 0.1
    with pytest.raises(IntegrityError, match="do not match their frozen hash"):
        check_record(rec, "here")


def _look(fp, role=HOLD_OUT, n=1):
    return {"details": {"role": role, "development": fp, "look_on_test_set": n, "run_id": "abcdef0123"}}


CFG = {"seed": 0, "model": {"name": "mlp"}, "trainer": {"max_epochs": 3, "enable_progress_bar": True},
       "acceptance": {"criteria": []}, "evaluation": {"test_look": False}, "cv": {"folds": 0}}


def test_development_fingerprint_ignores_only_non_development_settings():
    base = development_fingerprint(CFG, "d" * 64)
    cosmetic = {**CFG, "trainer": {**CFG["trainer"], "enable_progress_bar": False}, "evaluation": {"test_look": True},
                "acceptance": {"criteria": ["mcc >= 0.5"]}}
    assert development_fingerprint(cosmetic, "d" * 64) == base
    assert development_fingerprint({**CFG, "seed": 1}, "d" * 64)["sha256"] != base["sha256"]
    assert development_fingerprint(CFG, "e" * 64)["sha256"] != base["sha256"]
    assert "evaluation" not in development_config(CFG)


@pytest.mark.parametrize("changed", ["config_sha256", "code_sha256", "data_sha256"])
def test_demotion_fires_exactly_when_development_changed(changed):
    fp = development_fingerprint(CFG, "d" * 64)
    assert decide_role([], fp)["role"] == HOLD_OUT  # first look
    assert decide_role([_look(fp), _look(fp, n=2)], fp)["role"] == HOLD_OUT  # same development looks again
    parts = {k: fp[k] for k in ("config_sha256", "code_sha256", "data_sha256")}
    parts[changed] = "f" * 64
    other = {**parts, "sha256": "0" * 64}
    role = decide_role([_look(fp)], other)
    assert role["role"] == SECOND_STAGE and changed.removesuffix("_sha256") in role["reason"]
    # once demoted, the test set stays a second-stage validation set, also for the original development
    assert decide_role([_look(fp), _look(other, SECOND_STAGE, 2)], fp)["role"] == SECOND_STAGE


def test_new_verbs_keep_the_cli_light():
    import subprocess
    import sys

    from conftest import REPO, _env

    code = ("import sys, medtorch.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('pytorch_lightning', 'matplotlib', 'scipy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
