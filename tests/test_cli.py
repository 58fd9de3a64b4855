"""The medtorch console command starts fast (no Lightning) and reads run directories."""

import subprocess
import sys

import pytest

from conftest import REPO, _env, run_cli


def test_help_lists_verbs_and_imports_no_heavy_library():
    code = ("import sys, medtorch.cli as c; c.build_parser().format_help(); "
            "heavy = [m for m in ('pytorch_lightning', 'lightning', 'captum', 'torch', 'matplotlib') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = run_cli("--help")
    assert out.returncode == 0 and "show" in out.stdout and "python train.py" in out.stdout


def test_show_on_a_missing_directory_fails_clearly(tmp_path):
    out = run_cli("show", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such run directory" in out.stderr and "Traceback" not in out.stderr


def test_cv_summary_on_a_missing_folder_or_a_file_says_which(tmp_path):
    out = run_cli("cv-summary", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such cross-validation root" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "f.csv").write_text("a,b\n1,2\n")
    out = run_cli("cv-summary", str(tmp_path / "f.csv"))
    assert out.returncode == 2 and "is a file, not a cross-validation root" in out.stderr, out.stderr


def test_audit_verify_on_a_path_that_is_not_a_run_is_bad_input_not_tampering(tmp_path):
    """Exit 2 (a wrong path), not 3 (a changed run): a scheduler must not report tampering for a typo."""
    out = run_cli("audit", "verify", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such run directory" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("not a run")
    out = run_cli("audit", "verify", str(tmp_path / "plain"))
    assert out.returncode == 2 and "not a medtorch run directory" in out.stderr, out.stderr
    # a run that lost both its event log and its manifest still holds its other files: changed (exit 3)
    (tmp_path / "plain" / "model.pt").write_bytes(b"weights")
    out = run_cli("audit", "verify", str(tmp_path / "plain"))
    assert out.returncode == 3, (out.stdout, out.stderr)


@pytest.mark.slow
def test_show_prints_the_runs_metrics(default_run):
    out = run_cli("show", str(default_run))
    assert out.returncode == 0, out.stderr
    assert "status complete" in out.stdout and "MCC" in out.stdout and "malignant" in out.stdout
