"""The evidence report an assessor reads: no row-level data, a first-screen summary, typed
tables with no JSON or Python reprs, one consistent story about test looks and bridges, and a
PDF within the page budget."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, run_cli, run_train
from medtorch.report.pdf import find_browser
from medtorch.report.privacy import count, sig3

PAGE_BUDGET, SIZE_BUDGET = 12, 600_000


def _pdf_text(path: Path) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(p.extract_text() or "" for p in reader.pages)


def _cells(page: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)


# ------------------------------------------------------------------------------ units
def test_counts_below_the_floor_are_suppressed_and_values_rounded():
    assert [count(k, 5) for k in (0, 1, 4, 5, 17)] == ["0", "<5", "<5", "5", "17"]
    assert [sig3(x) for x in (4242.4242, 0.0123456, 13.43, None)] == ["4.24e+03", "0.0123", "13.4", "n/a"]


# ------------------------------------------------------------------------------ privacy, end to end
PLANTED = {"mean radius": [4242.4242 + k for k in range(10)], "mean texture": [-917.31337 - k for k in range(10)]}
PLANTED_LEVELS = [f"ZQXPLANTED{k}" for k in range(10)]


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory) -> Path:
    """Train on the breast-cancer table with planted unique values: extreme numbers and category
    levels each in exactly one row (ten of each, so that the training split holds some)."""
    from sklearn.datasets import load_breast_cancer

    tmp = tmp_path_factory.mktemp("planted")
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.where(bunch.target == 0, "malignant", "benign")
    frame["site"] = np.random.default_rng(0).choice(["north", "south", "east"], size=len(frame))
    for j, (col, values) in enumerate(PLANTED.items()):
        for k, value in enumerate(values):
            frame.loc[10 + 20 * j + k, col] = value
    for k, level in enumerate(PLANTED_LEVELS):
        frame.loc[100 + k, "site"] = level
    path = tmp / "planted.csv"
    frame.to_csv(path, index=False)
    _, run = run_train(tmp, "data=table", f"data.path={path}", "data.target=target", "explain=none", "report.pdf=auto")
    return run


def _shown(value: float, text: str) -> list[str]:
    """The forms a number could take in the report, found as whole tokens (not inside a hash)."""
    forms = {repr(value), f"{value:.4g}", f"{value:.3g}", f"{value:.6g}", f"{value:.2f}", f"{value:.1f}", str(int(value))}
    return [f for f in forms if re.search(rf"(?<![0-9A-Za-z.]){re.escape(f)}(?![0-9A-Za-z])", text)]


@pytest.mark.slow
def test_no_planted_row_value_reaches_the_report(planted_run):
    texts = {name: (planted_run / name).read_text() for name in ("report.html", "report.md", "report_appendix.html")}
    if (planted_run / "report.pdf").is_file():
        texts["report.pdf"] = _pdf_text(planted_run / "report.pdf")[1]
    elif find_browser() is not None:
        pytest.fail("a headless Chromium is on PATH but the run wrote no report.pdf")
    # the planted values are in the run's own artefacts (the monitoring reference keeps training values) ...
    kept = (planted_run / "monitoring_reference.json").read_text() + (planted_run / "eda.json").read_text()
    assert any(_shown(v, kept) for values in PLANTED.values() for v in values)
    assert any(level in kept for level in PLANTED_LEVELS)
    # ... and none of them is in the report
    for name, text in texts.items():
        for values in PLANTED.values():
            for value in values:
                assert not _shown(value, text), f"{name} shows the planted value {value} as {_shown(value, text)}"
        assert not [lv for lv in PLANTED_LEVELS if lv in text], f"{name} names a one-row category level"
        assert "observed_max" not in text and "observed_min" not in text
    md = texts["report.md"]
    assert "minimum and maximum are not shown" in md
    assert "fewer than 5 rows (not named)" in md  # the one-row levels are counted, not named


# ------------------------------------------------------------------------------ one story
@pytest.fixture(scope="module")
def story_run(default_run, tmp_path_factory) -> Path:
    """The default run after two test looks, a bridge on a second stack (float64 inference) and
    a re-run on its own stack, then a fresh report."""
    run = tmp_path_factory.mktemp("story") / "run"
    shutil.copytree(default_run, run)
    for _ in range(2):  # the test-set ledger is written in the working directory: a fresh one here
        assert run_cli("evaluate", str(run), cwd=run.parent).returncode == 0
    assert run_cli("bridge", str(run), "--dtype", "float64").returncode in (0, 7)
    assert run_cli("bridge", str(run)).returncode in (0, 7)
    proc = run_cli("report", str(run))
    assert proc.returncode == 0, proc.stderr
    return run


def _events(run: Path) -> list[dict]:
    import json

    return [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x.strip()]


def _section(md: str, title: str) -> str:
    m = re.search(rf"^## \d+\. {re.escape(title)}\n(.*?)(?=^## \d+\. |\Z)", md, flags=re.M | re.S)
    assert m, f"no section {title}"
    return m.group(1)


@pytest.mark.slow
def test_the_report_tells_one_story_of_test_looks_and_bridges(story_run):
    md = (story_run / "report.md").read_text()
    events = _events(story_run)
    looks = [e["details"] for e in events if e["action"] == "test_evaluated"]
    assert len(looks) == 2
    summary = _section(md, "Summary")
    assert f"{len(looks)} look(s) at the test set recorded" in summary
    from medtorch.registry.current import current_roles
    from medtorch.run import RunDir

    roles, _ = current_roles(RunDir(story_run), read_json(story_run / "manifest.json"))
    assert [r["evaluation"] for r in roles] == [lk["evaluation"] for lk in looks]
    for r in roles:  # the summary gives each look the role show and the ledger section give
        said = r["note"] if r["note"].startswith("hold-out at the time") else r["role"]
        assert f"look {r['evaluation']} (" in summary and said in summary, (r, summary)
    for title in ("Validation and test metrics", "Test-set ledger status", "Split and leakage checks"):
        text = _section(md, title)
        assert "the test set is sealed" not in text and "sealed: not evaluated" not in text, title
        assert "no look at the test set is recorded" not in text, title
    metrics = _section(md, "Validation and test metrics")
    for r in roles:
        said = r["note"] if r["note"].startswith("hold-out at the time") else r["role"]
        assert re.search(rf"^\| {r['evaluation']} \| [^|]+ \| {re.escape(said)} \|", metrics, re.M), said
    latest = read_json(story_run / "test_evaluations" / f"{looks[-1]['evaluation']:03d}" / "evaluation.json")
    assert f"| MCC | {latest['assessment']['ci']['mcc']['estimate']:.3f} |" in summary
    # bridges: the float64 stack is another stack; the run's own stack is the reference, never "another stack"
    own = read_json(story_run / "manifest.json")["stack"]["hash"]
    bridged = {e["details"]["stack_hash"]: e["details"]["passed"] for e in events if e["action"] == "bridge_evaluated"}
    other = [h for h in bridged if h != own]
    assert len(other) == 1 and own in bridged
    assert f"bridged to 1 other stack(s): {other[0][:12]}: {'passed' if bridged[other[0]] else 'FAILED'}" in summary
    trace = _section(md, "Traceability: regulatory expectations and their evidence")
    assert f"bridge/report_{own[:16]}.json: bridge re-evaluation on the training stack (a re-run)" in trace
    assert f"bridge/report_{other[0][:16]}.json: bridge re-evaluation on another stack" in trace


@pytest.mark.slow
def test_no_json_or_python_repr_in_any_table_cell(story_run):
    page = (story_run / "report.html").read_text()
    bad = [c for c in _cells(page) if "{&quot;" in c or "{&#x27;" in c or '{"' in c or "{'" in c]
    assert not bad, bad[:5]
    md = (story_run / "report.md").read_text()
    assert "{'" not in md and '{"' not in md


@pytest.mark.slow
def test_default_report_is_within_budget_and_its_pdf_holds_the_headline_metrics(default_run):
    html = default_run / "report.html"
    assert html.stat().st_size <= SIZE_BUDGET, html.stat().st_size
    md = html.with_name("report.md").read_text()
    summary = _section(md, "Summary")
    for head in ("| metric | estimate | 95% CI | interval method | n |", "true \\ predicted", "leakage verdict",
                 "bridge status", "test set", "Intended use:"):
        assert head in summary, head
    if find_browser() is None:
        pytest.skip("no headless Chromium: report.pdf is not written (the run said so)")
    pages, text = _pdf_text(default_run / "report.pdf")
    assert pages <= PAGE_BUDGET, pages
    ci = read_json(default_run / "assessment_val.json")["ci"]
    for key in ("mcc", "balanced_accuracy", "auroc"):
        assert f"{ci[key]['estimate']:.3f}" in text, key
    run_id = read_json(default_run / "manifest.json")["run_id"]
    assert f"run {run_id[:12]}" in text and f"of {pages}" in text  # the footer: run id and page numbers


def test_report_pdf_flag_fails_clearly_without_a_browser(default_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(default_run, run)
    monkeypatch.setenv("MEDTORCH_CHROMIUM", "")
    proc = run_cli("report", str(run), "--pdf")
    assert proc.returncode == 2, proc.stderr
    assert "no headless Chromium found" in proc.stderr and "apt-get install chromium" in proc.stderr
    proc = run_cli("report", str(run))  # without --pdf: HTML only, said once
    assert proc.returncode == 0 and proc.stderr.count("no headless Chromium found") == 1
    assert not (run / "report.pdf").exists() and (run / "report.html").is_file()
    # a report rewritten where no browser is (a reviewer's laptop) leaves the run verifiable: the training's PDF,
    # which no longer matches the new HTML, is kept under versions/ and checked there, not missed at its old path
    if (default_run / "report.pdf").is_file():
        assert [p.name for p in (run / "versions").glob("report.pdf@*")], sorted(os.listdir(run))
    verified = run_cli("audit", "verify", str(run))
    assert verified.returncode == 0, verified.stdout + verified.stderr


# ------------------------------------------------------------------------------ cross-validation root
FOLDS, FULL_PAGE_BUDGET = 3, 40
# every optional analysis, kept cheap: the synthetic cohort (subgroup columns sex, age_band and site,
# a calendar column) on 120 patients, one epoch, every explanation method on 12 rows; no PDF while
# training (the tests print the reports they measure)
FULL = ("data=synthetic_cohort", "split=grouped", "explain=all", "trainer.max_epochs=1", "data.cohort.patients=120",
        "explain.max_rows=12", "explain.perturbation_samples=10", "explain.bootstrap=100",
        "evaluation.bootstrap_resamples=100", "report.pdf=off")


def _print_reports(*runs: Path) -> None:
    if find_browser() is not None:
        for run in runs:
            proc = run_cli("report", str(run), "--pdf")
            assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def full_cv_run(tmp_path_factory) -> Path:
    """3-fold cross-validation with every optional analysis; the root's and fold 0's reports printed."""
    _, root = run_train(tmp_path_factory.mktemp("full_cv"), *FULL, f"cv.folds={FOLDS}")
    _print_reports(root / "fold_0", root)
    return root


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """The final model of the same settings (folds are never evaluated on the test set): two test
    looks, a bridge on a second stack (float64 inference), then its report printed."""
    _, run = run_train(tmp_path_factory.mktemp("full"), *FULL)
    for _ in range(2):
        assert run_cli("evaluate", str(run), cwd=run.parent).returncode == 0
    assert run_cli("bridge", str(run), "--dtype", "float64").returncode in (0, 7)
    _print_reports(run)
    return run


@pytest.mark.slow
def test_a_cv_root_gets_its_own_report_and_show_and_report_work_on_it(full_cv_run):
    root = full_cv_run
    summary = read_json(root / "cv_summary.json")
    md = (root / "report.md").read_text()
    for fold in summary["per_fold"]:
        link = f"{fold['run_dir']}/report.html"
        assert f"]({link})" in md and (root / link).is_file()
        assert f"| {fold['fold']} | {fold['val_rows']} | {fold['mcc']:.3f} |" in md
        fold_md = (root / fold["run_dir"] / "report.md").read_text()
        assert f"fold {fold['fold']} of {FOLDS}" in _section(fold_md, "Summary")
        assert "not part of a cross-validation" not in fold_md
    assert f"| mcc | {summary['distribution']['mcc']['mean']:.3f} |" in md
    shown = run_cli("show", str(root))
    assert shown.returncode == 0 and f"MCC {summary['per_fold'][0]['mcc']:.3f}" in shown.stdout, shown.stderr
    assert run_cli("audit", "verify", str(root / "fold_0")).returncode == 0


@pytest.mark.slow
def test_a_run_with_every_optional_analysis_prints_within_forty_pages(full_run, full_cv_run):
    md = (full_run / "report.md").read_text()
    # every optional analysis is in the reports being measured: nothing is "Not in this run"
    for title in ("Subgroup and calendar-time analyses", "Explanations"):
        assert "Not in this run" not in _section(md, title), title
    subgroups = _section(md, "Subgroup and calendar-time analyses")
    assert all(f"Performance by {c}" in subgroups for c in ("sex", "age_band", "site")), subgroups[:500]
    summary = _section(md, "Summary")
    assert "2 look(s) at the test set recorded" in summary and "bridged to 1 other stack(s)" in summary
    assert len(read_json(full_run / "explain" / "explanation.json")["methods"]) == 6
    fold_md = (full_cv_run / "fold_0" / "report.md").read_text()
    assert "Not in this run" not in _section(fold_md, "Cross-validation distribution")
    if find_browser() is None:
        pytest.skip("no headless Chromium: report.pdf is not written (the run said so)")
    for report in (full_run / "report.pdf", full_cv_run / "fold_0" / "report.pdf", full_cv_run / "report.pdf"):
        pages, _ = _pdf_text(report)
        print(f"{report}: {pages} pages, {report.stat().st_size / 1000:.0f} kB; "
              f"report.html {report.with_suffix('.html').stat().st_size / 1000:.0f} kB")
        assert pages <= FULL_PAGE_BUDGET, (report, pages)


@pytest.mark.slow
def test_every_plot_of_a_run_with_subgroups_a_calendar_and_test_looks_keeps_legends_off_the_data(full_run, tmp_path,
                                                                                                 monkeypatch):
    from test_report_plots import check_every_plot_of

    drawn = check_every_plot_of(full_run, tmp_path, monkeypatch)
    assert {"plots/eda_calendar.png", "plots/forest_period_val.png", "plots/forest_site_val.png",
            "test_evaluations/002/forest_sex.png", "explain/plots/global_kernel_shap.png"} <= drawn


# ------------------------------------------------------------------------------ reliability bins
@pytest.mark.parametrize("n", [7, 86, 1000])
def test_reliability_bins_hold_at_least_ten_rows_and_wilson_intervals(n):
    from statsmodels.stats.proportion import proportion_confint

    from medtorch.evaluation.calibration import quantile_bins

    rng = np.random.default_rng(n)
    prob = rng.uniform(size=n)
    hit = rng.uniform(size=n) < prob
    d = quantile_bins(hit, prob, max_bins=10)
    assert sum(d["n"]) == n and len(d["n"]) == max(1, min(10, n // 10))
    assert all(k >= 10 for k in d["n"]) or n < 10
    order = np.argsort(prob, kind="stable")
    start = 0
    for k, pred, obs, lo, hi in zip(d["n"], d["mean_predicted"], d["observed"], d["lower"], d["upper"]):
        idx = order[start:start + k]
        start += k
        assert pred == pytest.approx(prob[idx].mean()) and obs == pytest.approx(hit[idx].mean())
        ref = proportion_confint(int(hit[idx].sum()), k, alpha=0.05, method="wilson")
        assert (lo, hi) == pytest.approx(ref, abs=1e-9)


def test_reliability_bins_of_a_constant_predictor_are_one_bin():
    from medtorch.evaluation.calibration import quantile_bins

    d = quantile_bins(np.array([0, 1] * 50, dtype=bool), np.full(100, 0.3), max_bins=10)
    assert d["n"] == [100] and d["observed"] == [0.5]


def test_no_missingness_chart_is_drawn_when_nothing_is_missing(tmp_path):
    from medtorch.data.eda import eda_plots

    split = {"rows": 40, "class_counts": {"a": 20, "b": 20}, "class_proportions": {"a": 0.5, "b": 0.5},
             "missing_share": {"x": 0.0, "y": 0.0}, "numeric": {}, "categories": {}}
    eda = {"splits": {"train": split, "val": split}, "representativeness": {}, "calendar": None}
    names = {p.name for p in eda_plots(eda, lambda name: tmp_path / f"{name}.png")}
    assert "missingness.png" not in names and "classes.png" in names
    split_missing = {**split, "missing_share": {"x": 0.25, "y": 0.0}}
    names = {p.name for p in eda_plots({**eda, "splits": {"train": split_missing}}, lambda n: tmp_path / f"{n}.png")}
    assert "missingness.png" in names
