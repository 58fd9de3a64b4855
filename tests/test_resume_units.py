"""Which directory a run may start in, and which interrupted runs continue by themselves."""

from __future__ import annotations

import json

import pytest

from medtorch.audit import EventLog
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_file
from medtorch.resume import check_fresh_start, completed_before_requeue, requeued, resolve_ckpt_path
from medtorch.run import RunDir

SCHEDULER_VARS = ("SLURM_RESTART_COUNT", "SUBMITIT_EXECUTOR")


def _run(tmp_path, status, checkpoint=True):
    rd = RunDir(tmp_path / "run")
    rd.root.mkdir()
    rd.manifest.write_text(json.dumps({"status": status, "error": "ValueError: x" if status == "failed" else None}))
    if checkpoint:
        rd.checkpoints.mkdir()
        (rd.checkpoints / "last.ckpt").write_bytes(b"x")
        # as a real run does: every checkpoint's hash is recorded when it is written (medtorch.checkpoints)
        EventLog(rd.events).append("checkpoint_saved", {"epoch": 0, "global_step": 1},
                                   outputs={"checkpoints/last.ckpt": sha256_file(rd.checkpoints / "last.ckpt")})
    return rd


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch):
    for v in SCHEDULER_VARS:
        monkeypatch.delenv(v, raising=False)


@pytest.mark.parametrize("env", [{"SUBMITIT_EXECUTOR": "slurm"}, {"SLURM_RESTART_COUNT": "1"}, {"SUBMITIT_EXECUTOR": "local"}])
@pytest.mark.parametrize("status,resumes", [("running", True), ("interrupted", True), ("failed", False), ("complete", False)])
def test_a_requeued_job_continues_only_an_unfinished_run(tmp_path, monkeypatch, env, status, resumes):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rd = _run(tmp_path, status)
    assert requeued(rd) is resumes
    assert (resolve_ckpt_path(None, rd) is not None) is resumes
    assert completed_before_requeue(rd) is (status == "complete")


def test_outside_a_scheduler_nothing_resumes_by_itself(tmp_path):
    rd = _run(tmp_path, "interrupted")
    assert not requeued(rd) and resolve_ckpt_path(None, rd) is None and not completed_before_requeue(rd)


@pytest.mark.parametrize("status", ["complete", "failed", "running", "interrupted"])
def test_a_new_run_never_starts_over_another_runs_evidence(tmp_path, status):
    rd = _run(tmp_path, status, checkpoint=False)
    with pytest.raises(MedtorchError, match=rf"already holds a run \(status: {status}\)"):
        check_fresh_start(rd)


def test_a_job_requeued_before_its_first_checkpoint_starts_again_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    rd = _run(tmp_path, "interrupted", checkpoint=False)
    check_fresh_start(rd)  # allowed: the same job, started again
    assert resolve_ckpt_path(None, rd) is None
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(MedtorchError, match=r"already holds a run \(status: failed\)"):
        check_fresh_start(_run(other, "failed", checkpoint=False))  # a failed run is never started over, requeued or not
