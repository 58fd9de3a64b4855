"""Beyond one process: resume after a kill, DDP on CPU (gloo), Hydra's submitit launcher."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import REPO, _env, read_json, run_cli, run_train

pytestmark = pytest.mark.slow

NO_EARLY_STOP = ["early_stopping.enabled=false", "trainer.max_epochs=4", "explain=none"]  # no test here reads explanations


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_killed_run_resumes_into_its_directory_and_reaches_the_same_weights(tmp_path):
    _, ref = run_train(tmp_path / "uninterrupted", *NO_EARLY_STOP)

    run_dir = tmp_path / "interrupted" / "run"
    env_kill = {"MEDTORCH_FAULT_KILL_AFTER_EPOCH": "1"}  # SIGKILL one step into epoch 2
    proc = _train_with_env(tmp_path / "interrupted", env_kill, *NO_EARLY_STOP, f"hydra.run.dir={run_dir}")
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert read_json(run_dir / "manifest.json")["status"] == "running"
    assert _weights(run_dir / "checkpoints/last.ckpt")["epoch"] == 1
    assert not (run_dir / "model.pt").exists()

    proc, _ = run_train(tmp_path / "interrupted", *NO_EARLY_STOP, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 1
    _same_state(_weights(ref / "checkpoints/last.ckpt")["state_dict"], _weights(run_dir / "checkpoints/last.ckpt")["state_dict"])
    _same_state(_weights(ref / "model.pt"), _weights(run_dir / "model.pt"))
    assert read_json(ref / "metrics.json")["val"] == read_json(run_dir / "metrics.json")["val"]
    assert len(read_json(run_dir / "metrics.json")["history"]) == 4
    from medtorch.audit import EventLog

    actions = [r["action"] for r in EventLog(run_dir / "events.jsonl").records()]
    assert "run_resumed" in actions and EventLog(run_dir / "events.jsonl").verify_chain() == len(actions)


def test_resume_is_refused_with_another_config_or_into_a_complete_run(tmp_path, default_run):
    import shutil

    complete = tmp_path / "complete"
    shutil.copytree(default_run, complete)  # Hydra writes into the run directory it is given: not the shared run
    proc, _ = run_train(tmp_path, f"hydra.run.dir={complete}", "ckpt_path=last", check=False)
    assert proc.returncode == 2 and "this run is complete" in proc.stderr
    # a new run into the directory is refused before anything is written, Hydra's launch record included
    before = {p: p.read_bytes() for p in complete.rglob("*") if p.is_file() and p.name != "train.log"}
    proc, _ = run_train(tmp_path, f"hydra.run.dir={complete}", "model.dropout=0.5", check=False)
    assert proc.returncode == 2 and "already holds a run (status: complete)" in proc.stderr
    # a job requeued after its run completed (the signal came during the report) has nothing to redo
    proc = _train_with_env(tmp_path, {"SUBMITIT_EXECUTOR": "slurm"}, f"hydra.run.dir={complete}")
    assert proc.returncode == 0 and "nothing to redo" in proc.stdout, proc.stderr[-2000:]
    assert {p: p.read_bytes() for p in complete.rglob("*") if p.is_file() and p.name != "train.log"} == before
    audit = run_cli("audit", "verify", str(complete))
    assert audit.returncode == 0, audit.stdout[-2000:]

    run_dir = tmp_path / "k" / "run"
    _train_with_env(tmp_path / "k", {"MEDTORCH_FAULT_KILL_AFTER_EPOCH": "0"}, *NO_EARLY_STOP, f"hydra.run.dir={run_dir}")
    proc, _ = run_train(tmp_path / "k", *NO_EARLY_STOP, "model.dropout=0.5", f"hydra.run.dir={run_dir}",
                        "ckpt_path=last", check=False)
    assert proc.returncode == 2 and "different config" in proc.stderr


def _train_with_env(tmp_path, extra_env, *overrides):
    tmp_path.mkdir(parents=True, exist_ok=True)
    from conftest import FAST

    env = {**_env(), **extra_env}
    flags = [o for o in overrides if o.startswith("-")]  # Hydra flags (-m) first, as in run_train
    overrides = tuple(o for o in overrides if not o.startswith("-"))
    return subprocess.run([sys.executable, str(REPO / "train.py"), *flags, *FAST, *overrides], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_ddp_on_two_cpu_processes_matches_single_process_evaluation(tmp_path):
    """Two gloo processes train; the synchronised val/mcc of the chosen epoch equals a single-process
    evaluation of the exported weights on the whole validation split."""
    proc, rd = run_train(tmp_path, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                         "early_stopping.enabled=false", "trainer.max_epochs=2")
    manifest = read_json(rd / "manifest.json")
    assert manifest["status"] == "complete"
    out = proc.stdout + proc.stderr
    assert "MEMBER: 1/2" in out and "MEMBER: 2/2" in out, out[-3000:]  # two processes joined the group
    spec = read_json(rd / "model.json")
    val = read_json(rd / "metrics.json")["val"]
    assert spec["selected_by"]["best_score"] == pytest.approx(val["mcc"], abs=1e-6)
    # evidence written once: one run id, one complete event chain, no second rank's files
    from medtorch.audit import EventLog

    records = EventLog(rd / "events.jsonl").records()
    actions = [r["action"] for r in records]
    assert actions.count("run_started") == 1 and actions.count("run_complete") == 1
    assert "ddp" in (rd / "config.yaml").read_text()
    # DDP synchronises gradients once per Lightning step: trainer.steps_per_execution=auto takes one batch a step
    assert next(r for r in records if r["action"] == "training_started")["details"]["steps_per_execution"] == 1


def test_submitit_local_launcher_runs_jobs_as_separate_processes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    proc, _ = run_train(tmp_path, "-m", "hydra/launcher=submitit_local", "seed=3,4", "trainer.max_epochs=1", "explain=none",
                        f"hydra.sweep.dir={sweep}")
    jobs = sorted(p for p in sweep.glob("job*") if p.is_dir())
    assert len(jobs) == 2
    manifests = [read_json(j / "manifest.json") for j in jobs]
    assert sorted(m["seed"] for m in manifests) == [3, 4]
    assert all(m["status"] == "complete" for m in manifests)
    assert all((j / "model.pt").is_file() and (j / "metrics.json").is_file() for j in jobs)
    # separate processes: submitit writes one log per job with its own pid
    logs = list((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) >= 2


def test_submitit_requeue_on_time_limit_resumes_the_run_to_the_same_weights(tmp_path):
    """The real requeue path: submitit's own handler catches the time-limit signal, requeues the job.

    One step into epoch 2 the job receives the signal SLURM sends ``signal_delay_s`` before its
    time limit (submitit's USR2). submitit's handler asks Hydra's launcher for a checkpoint,
    the local executor restarts the job as SLURM would requeue it, and medtorch resumes the run
    in the same directory from ``last.ckpt``: the final weights equal an uninterrupted run's.
    """
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    _, ref = run_train(tmp_path / "uninterrupted", *NO_EARLY_STOP)
    sweep = tmp_path / "sweep"
    proc = _train_with_env(tmp_path / "requeued", {"MEDTORCH_FAULT_SIGNAL_AFTER_EPOCH": "1"}, "-m",
                              "hydra/launcher=submitit_local", *NO_EARLY_STOP, f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = sweep / "job0"
    manifest = read_json(job / "manifest.json")
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 1
    assert manifest["resumed"][0]["from"] == "checkpoints/last.ckpt"
    logs = "".join(p.read_text() for p in (sweep / ".submitit").glob("*/*_log.*"))
    assert "Requeued job" in logs  # submitit's handler requeued it; medtorch did not restart itself
    _same_state(_weights(ref / "model.pt"), _weights(job / "model.pt"))
    assert read_json(ref / "metrics.json")["val"] == read_json(job / "metrics.json")["val"]
    from medtorch.audit import EventLog

    log = EventLog(job / "events.jsonl")
    actions = [r["action"] for r in log.records()]
    assert actions.count("run_interrupted") == 1 and "run_resumed" in actions
    assert log.verify_chain() == len(actions)
