"""scripts/bench_e2e.py runs end to end on a tiny table (a smoke test: no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_e2e_runs_both_paths_and_prints_the_ratio_and_every_step(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_e2e.py"), "--rows", "2000", "--epochs", "1",
                          "--repeats", "1", "--keep", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert re.search(r"ratio \(b\)/\(a\), median of the 1 paired ratios: \d+\.\d{3}", text), text
    # the medtorch run did every governance step, each with its cost printed
    for step in ("leakage checks", "EDA", "monitoring reference", "assessment", "explanations", "bridge reference",
                 "report", "training (Lightning", "startup"):
        assert re.search(re.escape(step) + r".*\s\d+\.\d\d$", text, re.M), f"{step!r} missing from:\n{text}"
    run = tmp_path / "medtorch0"
    assert (run / "report.html").is_file() and (run / "explain").is_dir() and (run / "leakage.json").is_file()
    assert (tmp_path / "lht0" / "lht").is_dir()  # the baseline's CSVLogger output
