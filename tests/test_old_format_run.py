"""A run directory written by the code before the manifest carried a format version (format 1).

``tests/fixtures/run_format1`` was written once by medtorch at commit 4980fb5 (a 240-row, four-column
table, 2 epochs; see tests/fixtures/README.md). The current code must still verify it, read its
manifest as format 1, and either report on it or refuse it with a message naming its format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from medtorch.errors import EXIT_CODES, EXIT_INTEGRITY, EXIT_OK
from medtorch.evidence import Run

FIXTURE = Path(__file__).parent / "fixtures" / "run_format1"


@pytest.fixture
def old_run(tmp_path) -> Path:
    copy = tmp_path / "run_format1"
    shutil.copytree(FIXTURE, copy)  # the verbs append to a run: never to the committed fixture
    return copy


def test_the_fixture_is_format_1():
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    assert "format_version" not in manifest and manifest["status"] == "complete"
    run = Run.open(FIXTURE)
    assert run.manifest.format_version == 1
    assert run.read_json(run.rd.metrics)["val"]["n"] > 0  # read through its recorded hash


@pytest.mark.slow
def test_audit_verify_passes_on_a_format_1_run_and_still_catches_tampering(old_run):
    proc = run_cli("audit", "verify", str(old_run))
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    assert "OK" in proc.stdout
    (old_run / "metrics.json").write_text((old_run / "metrics.json").read_text().replace('"n"', '"n" ', 1))
    proc = run_cli("audit", "verify", str(old_run))
    assert proc.returncode == EXIT_INTEGRITY and "metrics.json" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_report_reads_a_format_1_run_or_refuses_it_naming_the_format(old_run):
    proc = run_cli("report", str(old_run))
    if proc.returncode == EXIT_OK:
        assert (old_run / "report.md").stat().st_size > 1000
        assert run_cli("audit", "verify", str(old_run)).returncode == EXIT_OK  # the new report is recorded too
    else:
        assert proc.returncode in {e.code for e in EXIT_CODES}
        assert "format 1" in proc.stderr, proc.stderr
