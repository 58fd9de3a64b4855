"""Shared test helpers: run the real train.py and the medtorch CLI as a user would."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# the test process uses one intra-op thread like the runs it trains (see _env), so loading a
# run in-process is the same stack and does not call for a bridge re-evaluation
os.environ.setdefault("OMP_NUM_THREADS", "1")
# the test-set registry of every test run lives in a fresh per-session folder, never in the
# user's ~/.local/share (tests that need their own registry set MEDTORCH_REGISTRY per process)
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="medtorch-tests-xdg-")
atexit.register(shutil.rmtree, os.environ["XDG_DATA_HOME"], ignore_errors=True)  # removed when the session ends
os.environ.pop("MEDTORCH_REGISTRY", None)

# Small, fast settings for end-to-end runs on CPU (still the real train.py and Trainer). No PDF of a run's
# report: printing starts a headless Chromium (about 2 s a run here); the runs whose PDF the tests read
# (default_run, the planted run) ask for it with report.pdf=auto, which comes later and wins. A CV root's
# own report is still printed where a browser is.
FAST = ["trainer=cpu", "trainer.max_epochs=3", "trainer.enable_progress_bar=false", "report.pdf=off"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["HYDRA_FULL_ERROR"] = "0"
    return env


def run_train(tmp_path: Path, *overrides: str, check: bool = True, fast: bool = True) -> tuple[subprocess.CompletedProcess, Path | None]:
    """Run ``python train.py`` with the run directory under ``tmp_path``; return (process, run dir)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    run_dir = tmp_path / "run"
    flags = [o for o in overrides if o.startswith("-")]  # Hydra flags (-m) must precede the overrides
    overrides = tuple(o for o in overrides if not o.startswith("-"))
    args = [sys.executable, str(REPO / "train.py"), *flags, *(FAST if fast else []), *overrides]
    if not any(o.startswith("hydra.run.dir=") for o in overrides) and "-m" not in flags:
        args.append(f"hydra.run.dir={run_dir}")
    env = _env()
    env["XDG_DATA_HOME"] = str(tmp_path / ".data")  # runs trained under one tmp_path share a test-set registry
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-4000:]}")
    return proc, (run_dir if run_dir.exists() else None)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``medtorch ARGS`` (as ``python -m medtorch.cli`` so the checkout under test is used)."""
    return subprocess.run([sys.executable, "-m", "medtorch.cli", *args], cwd=cwd or REPO, env=_env(),
                          capture_output=True, text=True, timeout=600)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """One real default training run (3 epochs, CPU), shared by tests that only read it."""
    tmp = tmp_path_factory.mktemp("default_run")
    _, run_dir = run_train(tmp, "report.pdf=auto")  # as a user's default run: the PDF where a browser is
    return run_dir
