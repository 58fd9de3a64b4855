"""The evidence report: every section in report.md and report.html, absent evidence said to be
absent, and a traceability table computed from the artefacts present."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, _env, run_cli, run_train
from medtorch.audit import EventLog, file_hashes
from medtorch.report.sections import SECTIONS, Evidence
from medtorch.report.traceability import EXPECTATIONS, trace
from medtorch.run import write_json, write_text

TITLES = [s.title for s in SECTIONS]


def _row(md: str, expectation: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("| ") and f"| {expectation} |" in line)


def record(run: Path, action: str, files: dict[str, object]) -> None:
    """Write artefacts into a run and record them in its event log, as a feature's step does."""
    paths = []
    for rel, content in files.items():
        path = run / rel
        if isinstance(content, bytes):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        elif isinstance(content, str):
            write_text(path, content)
        else:
            write_json(path, content)
        paths.append(path)
    EventLog(run / "events.jsonl").append(action, outputs=file_hashes(run, paths))


# ------------------------------------------------------------------------------ unit: traceability
CANDIDATES = (True, 1, "train", [{"step": "rebalance"}], {"c": {"sensitivity": 0.9}})


def _write_evidence(root: Path, pattern: str, test) -> Path:
    """Create the smallest artefact that satisfies one locator (JSON is also valid YAML)."""
    glob, _, key = pattern.partition("#")
    path = root / glob.replace("*", "x")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".md":
        path.write_text("# evidence\n")
        return path
    value = next(v for v in CANDIDATES if test is None or test(v)) if key else None
    obj: object = {"x": 1} if not key else value
    for part in reversed(key.split(".") if key else []):
        obj = {part: obj}
    path.write_text(json.dumps(obj))
    return path


def test_each_expectation_turns_from_missing_to_present_when_its_artefact_appears(tmp_path):
    ev = Evidence(tmp_path, {}, {}, [])
    assert not any(t.present for t in trace(ev)), "an empty directory has no evidence"
    for exp in EXPECTATIONS:
        for loc in exp.locators:
            if loc.pattern.startswith(".."):
                continue  # outside the run directory
            path = _write_evidence(tmp_path, loc.pattern, loc.test)
            rows = {t.expectation: t for t in trace(ev)}
            assert rows[exp.name].present, (exp.name, loc.pattern)
            assert "[not recorded by the audit trail]" in rows[exp.name].evidence[0]
            others = [t.expectation for t in rows.values() if t.present and t.expectation != exp.name]
            path.unlink()
            assert not any(t.present for t in trace(ev)), (loc.pattern, "left evidence behind")
            # an artefact may legitimately serve two expectations (e.g. eda.json), never more
            assert len(others) <= 1, (loc.pattern, others)


def test_values_inside_artefacts_decide_presence(tmp_path):
    ev = Evidence(tmp_path, {}, {}, [])
    write_text(tmp_path / "config.yaml", "model:\n  dropout: 0.0\noptim:\n  weight_decay: 0.0\nearly_stopping:\n  enabled: false\n")
    write_json(tmp_path / "preprocessing.json", {"fitted_on": {"split": "all"}})
    rows = {t.expectation: t for t in trace(ev)}
    assert not rows["Regularisation and dropout"].present
    assert not rows["Early split (before anything is fitted)"].present
    write_text(tmp_path / "config.yaml", "model:\n  dropout: 0.1\n")
    write_json(tmp_path / "preprocessing.json", {"fitted_on": {"split": "train"}})
    rows = {t.expectation: t for t in trace(ev)}
    assert rows["Regularisation and dropout"].evidence == ["config.yaml#model.dropout: dropout = 0.1 [not recorded by the audit trail]"]
    assert rows["Early split (before anything is fitted)"].present


def test_an_empty_list_of_acceptance_criteria_is_a_gap_not_evidence(tmp_path):
    ev = Evidence(tmp_path, {}, {}, [])
    write_json(tmp_path / "acceptance.json", {"name": "none", "criteria": [], "sha256": "x", "frozen_utc": "t"})
    assert not {t.expectation: t for t in trace(ev)}["A-priori acceptance thresholds"].present
    write_json(tmp_path / "acceptance.json", {"name": "standard", "criteria": [{"text": "mcc_lower_ci >= 0.6"}]})
    assert {t.expectation: t for t in trace(ev)}["A-priori acceptance thresholds"].present


# ------------------------------------------------------------------------------ the default run
@pytest.mark.slow
def test_train_writes_a_report_with_every_section_and_computed_traceability(default_run):
    md = (default_run / "report.md").read_text()
    html = (default_run / "report.html").read_text()
    for i, title in enumerate([*TITLES, "Traceability: regulatory expectations and their evidence"], 1):
        assert f"## {i}. {title}" in md, title
        assert f"{i}. {title}</h2>" in html.replace("&amp;", "&"), title
    # what the foundation writes is shown in full
    assert "| malignant |" in md and "true \\ predicted" in md and "sealed by training (hashed, not evaluated by it)" in md
    assert "![plots/confusion_val_counts.png](plots/confusion_val_counts.png)" in md
    assert "Demonstration of the medtorch evidence pipeline" in md  # the model card from the config
    # absent evidence is said to be absent, not dropped
    assert "Not in this run: this run is not part of a cross-validation" in md
    # traceability: one row per expectation, status from the artefacts
    for exp in EXPECTATIONS:
        _row(md, exp.name)
    assert "| present |" in _row(md, "Regularisation and dropout")
    assert "config.yaml#model.dropout: dropout = 0.2" in _row(md, "Regularisation and dropout")
    assert "| present |" in _row(md, "MCC and full confusion matrix")
    assert "| present |" in _row(md, "Early split (before anything is fitted)")
    for present in ("Leakage checks", "Explainability", "Bridge re-evaluation", "Inference data specification"):
        assert "| present |" in _row(md, present), present
    assert "| MISSING |" in _row(md, "Cross-validation distributions")
    # self-contained: images are data URIs, nothing is fetched from elsewhere
    assert html.count('src="data:image/png;base64,') >= 3
    assert "http://" not in html and "https://" not in html and "<script" not in html


@pytest.fixture(scope="module")
def enriched_run(default_run, tmp_path_factory) -> Path:
    """The default run plus artefacts of later features, recorded as their steps record them."""
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(default_run, run)
    png = (run / "plots" / "confusion_val_counts.png").read_bytes()
    record(run, "leakage_checked", {"leakage.json": {"status": "pass", "checks": [
        {"check": "duplicate rows across splits", "status": "pass", "found": 0},
        {"check": "subject overlap", "status": "pass", "found": 0}]}})
    record(run, "explained", {
        "explain/explanation.json": {"method": "integrated gradients", "top": {"mean radius": 0.31}},
        "explain/summary.md": "# Explanations\n\nMost important: **mean radius**.\n\n![attributions](plots/attr.png)\n",
        "explain/plots/attr.png": png})
    out = run_cli("report", str(run))
    assert out.returncode == 0, out.stderr
    return run


@pytest.mark.slow
def test_a_features_artefact_turns_its_row_present_and_is_shown_without_new_code(enriched_run):
    md = (enriched_run / "report.md").read_text()
    html = (enriched_run / "report.html").read_text()
    assert "| present |" in _row(md, "Leakage checks") and "leakage.json: leakage check results" in _row(md, "Leakage checks")
    assert "| present |" in _row(md, "Explainability")
    assert "| subject overlap | pass | - |" in md  # leakage.json as a typed table of checks
    assert "Most important: **mean radius**." in md and "![attributions](explain/plots/attr.png)" in md
    assert "<strong>mean radius</strong>" in html  # the Markdown artefact rendered in HTML ...
    assert 'alt="attributions"' in html and 'src="data:image/png;base64,' in html.split('alt="attributions"')[0][-200000:]
    assert "Not in this run: no explanations" not in md
    out = run_cli("audit", "verify", str(enriched_run))
    assert out.returncode == 0, out.stderr  # the report's own files are recorded by its event


@pytest.mark.slow
def test_an_unrecorded_artefact_is_shown_but_flagged_unverified(enriched_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(enriched_run, run)
    # a monitoring report put there by hand (``medtorch monitor`` records the ones it writes)
    write_json(run / "monitoring" / "by_hand" / "report.json", {"rows": 1})
    assert run_cli("report", str(run)).returncode == 0
    md = (run / "report.md").read_text()
    assert "`monitoring/by_hand/report.json`: not recorded by the run's audit trail (unverified)" in md


@pytest.mark.slow
def test_report_never_imports_lightning(default_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(default_run, run)
    code = ("import sys; from medtorch.cli import main; rc = main(['report', sys.argv[1]]); "
            "heavy = [m for m in ('pytorch_lightning', 'lightning', 'torchmetrics', 'captum') if m in sys.modules]; "
            "print(heavy); sys.exit(rc or (1 if heavy else 0))")
    proc = subprocess.run([sys.executable, "-c", code, str(run)], cwd=REPO, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_report_on_a_failed_or_missing_run_is_refused(tmp_path):
    out = run_cli("report", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such run directory" in out.stderr
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "manifest.json").write_text(json.dumps({"status": "failed"}))
    out = run_cli("report", str(tmp_path / "failed"))
    assert out.returncode == 2 and "not 'complete'" in out.stderr


def test_a_keyed_artefact_shows_only_its_part_in_each_section(tmp_path):
    from medtorch.report.blocks import Missing, Table
    from medtorch.report.compose import render_section

    write_json(tmp_path / "assessment_val.json", {
        "ci": {"mcc": {"estimate": 0.8, "lower": 0.7, "upper": 0.9}},
        "subgroups": {"sex": {"cells": [
            {"group": "F", "n": 40, "small_n": False, "mcc": {"estimate": 0.81, "lower": 0.7, "upper": 0.9, "method": "bca"},
             "mcc_vs_overall": 0.01},
            {"group": "M", "n": 46, "small_n": False, "mcc": {"estimate": 0.79, "lower": 0.68, "upper": 0.88,
                                                              "method": "bca"}, "mcc_vs_overall": -0.01}],
            "gaps": {"mcc_range": 0.02, "groups_judged": 2, "groups_too_small": [], "min_n": 30}}},
        "periods": None})
    events = [{"seq": 0, "action": "test_look", "time_utc": "t", "user": "u", "details": {"number": 1}}]
    ev = Evidence(tmp_path, {}, {}, events)
    by_key = {s.key: s for s in SECTIONS}
    sub = render_section(ev, by_key["subgroups"])
    captions = [b.caption for b in sub.blocks if isinstance(b, Table)]
    assert sub.present and captions == ["Performance by sex (assessment_val.json#subgroups)"]
    sex = next(b for b in sub.blocks if isinstance(b, Table))
    assert sex.rows[0][:5] == ["F", 40, "0.810", "0.700 to 0.900", "bca"]
    metrics = render_section(ev, by_key["metrics"])
    assert any(isinstance(b, Table) and b.caption == "Validation: metrics with 95% confidence intervals"
               for b in metrics.blocks)
    assert not any(isinstance(b, Missing) and "Confidence intervals" in b.text for b in metrics.blocks)
    ledger = render_section(ev, by_key["ledger"])
    assert any(isinstance(b, Table) and b.rows[0][3] == "test_look" for b in ledger.blocks)
    empty = render_section(ev, by_key["acceptance"])
    assert not empty.present and isinstance(empty.blocks[0], Missing)


@pytest.mark.slow
def test_a_run_without_acceptance_criteria_says_so_in_both_reports(tmp_path):
    _, run = run_train(tmp_path, "acceptance=none")
    assert json.loads((run / "acceptance.json").read_text())["criteria"] == []
    md = (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    said = "No acceptance criteria were set for this run (acceptance=none)"
    assert said in md and said in html
    assert "| MISSING |" in _row(md, "A-priori acceptance thresholds")
    written = [e for e in EventLog(run / "events.jsonl").records() if e["action"] == "report_written"][-1]
    assert "A-priori acceptance thresholds" in written["details"]["expectations_missing"]
