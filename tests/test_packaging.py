"""Issue 19, point 4: ``medtorch train`` from an installed wheel (not editable), from any directory.

The wheel is built from a copy of the tracked files, installed with ``--no-deps`` into a fresh
virtual environment whose dependencies (torch, Lightning, ...) are this environment's, made
visible by a ``.pth`` line (the spirit of ``--system-site-packages``: no CUDA build is pulled,
nothing is downloaded). The checkout is not on the path, so only the wheel's code and configs run.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


def _sh(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)


@pytest.mark.slow
def test_medtorch_train_from_an_installed_wheel_in_a_fresh_venv(tmp_path):
    src = tmp_path / "src"
    files = _sh(["git", "ls-files"], cwd=REPO).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    built = _sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src])
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("medtorch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "medtorch/conf/config.yaml" in names and "medtorch/conf/experiment/logistic_baseline.yaml" in names

    venv = tmp_path / "venv"
    assert _sh([sys.executable, "-m", "venv", "--without-pip", venv]).returncode == 0
    py = venv / "bin" / "python"
    installed = _sh([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", wheel])
    assert installed.returncode == 0, installed.stderr[-3000:]
    purelib = _sh([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")  # dependencies only

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    where = _sh([py, "-c", "import medtorch; print(medtorch.__file__)"], cwd=work, env=env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr  # the wheel, not the checkout
    p = _sh([venv / "bin" / "medtorch", "train", "+experiment=logistic_baseline", "trainer=cpu", "trainer.max_epochs=2",
             "explain=none", "hydra.run.dir=run"], cwd=work, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    manifest = json.loads((work / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["experiment"] == "logistic_baseline"
    assert (work / "run" / "report.html").is_file()
