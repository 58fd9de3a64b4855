"""Issue 19, point 6: progress on a terminal only; --quiet and progress=off silence it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest

from conftest import REPO

CHECK = "from medtorch.progress import progress_enabled; print(progress_enabled('auto'), progress_enabled('on'), progress_enabled('off'))"


def test_auto_means_on_only_when_stderr_is_a_terminal():
    piped = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=REPO)
    assert piped.stdout.split() == ["False", "True", "False"]
    main, secondary = pty.openpty()
    try:
        tty = subprocess.run([sys.executable, "-c", CHECK], stdout=subprocess.PIPE, stderr=secondary, text=True, cwd=REPO)
    finally:
        os.close(secondary)
        os.close(main)
    assert tty.stdout.split() == ["True", "True", "False"]


def test_steps_name_a_step_only_once_it_passes_two_seconds(capsys):
    from medtorch.progress import Steps

    steps = Steps("on")
    steps.begin("quick step")
    steps.begin("slow step")
    time.sleep(2.8)
    steps.end()
    err = capsys.readouterr().err
    assert "medtorch: slow step" in err and "quick step" not in err
    off = Steps("off")
    off.begin("slow step")
    time.sleep(0.1)
    off.end()
    assert capsys.readouterr().err == ""


def test_quiet_switches_progress_off_for_a_verb(tmp_path, monkeypatch):
    from medtorch.cli import main

    monkeypatch.setenv("MEDTORCH_PROGRESS", "on")
    assert main(["show", str(tmp_path / "no-run"), "--quiet"]) == 2  # not a run: exit 2, after --quiet applied
    assert os.environ["MEDTORCH_PROGRESS"] == "off"


def test_bar_draws_nothing_when_off(monkeypatch):
    from medtorch.progress import bar

    monkeypatch.setenv("MEDTORCH_PROGRESS", "off")
    assert list(bar(range(3), "x")) == [0, 1, 2]


def test_a_paused_status_line_draws_nothing_while_lightning_draws_its_bar(capsys):
    from medtorch.progress import Steps

    steps = Steps("on", first="preparing the data")
    steps.pause()
    time.sleep(2.6)
    steps.end()
    assert "preparing the data" not in capsys.readouterr().err
