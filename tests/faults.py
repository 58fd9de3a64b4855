"""Helpers for the fault tests: launch train.py as a real process, stop it at a chosen point, kill -9 it by PID."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import FAST, REPO, _env

# a run whose best epoch (highest validation loss) is epoch 0, so that the last epoch is never the best
SMALL = [*FAST, "trainer.max_epochs=6", "early_stopping.monitor=val/loss", "early_stopping.mode=max", "explain=none"]


def _ctrl_c_as_at_a_terminal() -> None:
    # a suite started in the background of a shell without job control (`nohup pytest &`) inherits SIGINT
    # ignored, and so would the run: it would never see the test's Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def launch(run_dir: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    args = [sys.executable, str(REPO / "train.py"), *SMALL, *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(args, cwd=run_dir.parent, env={**_env(), **(env or {})}, preexec_fn=_ctrl_c_as_at_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def kill_when_stopped(proc: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until the process stops itself (MEDTORCH_FAULT_STOP_*), then ``kill -9`` it by its PID."""
    end = time.monotonic() + timeout
    while not stopped(proc.pid):
        if proc.poll() is not None:
            raise AssertionError(f"train.py ended ({proc.returncode}) before reaching the fault point:\n"
                                 + proc.stdout.read()[-3000:])
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("train.py never reached the fault point")
        time.sleep(0.05)
    subprocess.run(["kill", "-9", str(proc.pid)], check=True)  # a real kill -9 by PID
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def train(run_dir: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, str(REPO / "train.py"), *SMALL, *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.run(args, cwd=run_dir.parent, env={**_env(), **(env or {})}, capture_output=True, text=True,
                          timeout=600)


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
