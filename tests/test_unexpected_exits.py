"""What a run exits with when something other than a checked input stops it: never exit 1, which
means a failed acceptance criterion. A bug exits EXIT_INTERNAL_ERROR, Lightning's refusal of the
configuration EXIT_BAD_INPUT, Ctrl-C during training EXIT_INTERRUPTED; in a sweep (-m), a job's
error fails that job, the other jobs still run, and the sweep exits with the failed job's code."""

from __future__ import annotations

import signal
import time

import pytest
import torch

from conftest import read_json, run_train
from faults import launch, stopped
from medtorch.errors import EXIT_BAD_INPUT, EXIT_CRITERIA_FAILED, EXIT_INTERRUPTED

pytestmark = pytest.mark.slow
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")


def test_ctrl_c_during_training_exits_interrupted_and_marks_the_run(tmp_path):
    rd = tmp_path / "run"
    proc = launch(rd, env={"MEDTORCH_FAULT_STOP_AFTER_EPOCH": "1"})  # stops itself one step into epoch 2
    end = time.monotonic() + 300
    while not stopped(proc.pid):
        assert proc.poll() is None and time.monotonic() < end, proc.stdout.read()[-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C, delivered once it runs again
    proc.send_signal(signal.SIGCONT)
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == EXIT_INTERRUPTED != EXIT_CRITERIA_FAILED, out[-3000:]
    manifest = read_json(rd / "manifest.json")
    assert manifest["status"] == "interrupted", manifest  # and it continues with ckpt_path=last (tests/test_scale.py)


@no_gpu
def test_lightning_refusing_the_configuration_is_bad_input_and_a_sweep_runs_its_other_jobs(tmp_path):
    proc, _ = run_train(tmp_path / "one", "trainer.accelerator=gpu", "trainer.max_epochs=1", "explain=none", check=False)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-3000:]
    assert "Lightning refused the configuration" in proc.stderr and "MisconfigurationException" in proc.stderr
    sweep = tmp_path / "sweep"
    proc, _ = run_train(tmp_path / "many", "-m", "trainer.accelerator=gpu,cpu", "trainer.max_epochs=1", "explain=none",
                        f"hydra.sweep.dir={sweep}", check=False)
    # Hydra reports the failed job at the end, after running the other one; the sweep exits with the failed
    # job's code, not Hydra's 1 (the failed-criterion code)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-3000:]
    assert "1 job(s) of the sweep failed (job 0: exit 2)" in proc.stderr
    assert read_json(sweep / "job1" / "manifest.json")["status"] == "complete"
    assert read_json(sweep / "job0" / "manifest.json")["status"] == "failed"


def test_a_checked_error_in_one_job_of_a_sweep_lets_the_others_run_and_the_sweep_exits_with_its_code(tmp_path):
    """A job refused with a MedtorchError (here a config value medtorch checks: eda.tolerance) used to end the
    whole sweep at that job; it is now a failed job like any other, and the sweep exits with its code."""
    sweep = tmp_path / "sweep"
    proc, _ = run_train(tmp_path / "many", "-m", "eda.tolerance=1.5,0.5", "trainer.max_epochs=1", "explain=none",
                        f"hydra.sweep.dir={sweep}", check=False)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-3000:]
    assert "medtorch: error:" in proc.stderr and "eda.tolerance" in proc.stderr  # the job's own message
    # once, without a traceback: Hydra's report of the failed job at the end points to it
    assert proc.stderr.count("eda.tolerance must be") == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "job 0 was refused (exit 2); its error is printed above" in proc.stderr
    assert "1 job(s) of the sweep failed (job 0: exit 2)" in proc.stderr
    assert read_json(sweep / "job1" / "manifest.json")["status"] == "complete"  # the other job ran
    assert not (sweep / "job0" / "manifest.json").exists()  # refused before its run started: nothing left


def test_an_error_before_hydra_starts_exits_internal_error_not_1():
    """train.py and ``medtorch train`` end through run_then_finish: an exception that escaped before Hydra ran
    (here: registering medtorch's Hydra plugins fails) would have been Python's status 1, the failed-criterion code."""
    import subprocess
    import sys

    from medtorch.errors import EXIT_INTERNAL_ERROR

    code = ("import medtorch.launch as launch\n"
            "def boom():\n    raise OSError('config store unavailable')\n"
            "launch.register = boom\n"
            "from medtorch.process_exit import run_then_finish\n"
            "run_then_finish(lambda: launch.main(['trainer.max_epochs=1'], prog='medtorch train'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_INTERNAL_ERROR != EXIT_CRITERIA_FAILED, proc.stderr[-2000:]
    assert "OSError: config store unavailable" in proc.stderr and "unexpected error" in proc.stderr


def test_a_checked_error_that_escapes_the_command_keeps_its_code_and_message():
    import subprocess
    import sys

    from medtorch.errors import EXIT_BAD_INPUT

    code = ("from medtorch.errors import MedtorchError\n"
            "from medtorch.process_exit import run_then_finish\n"
            "def command():\n    raise MedtorchError('conf/ is not readable')\n"
            "run_then_finish(command)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert proc.stderr.strip() == "medtorch: error: conf/ is not readable"  # one line, no traceback
