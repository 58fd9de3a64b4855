"""End to end: train on a synthetic table, then `medtorch predict` and `medtorch monitor` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, _env, read_json, run_train
from deploy_data import TRAIN_OVERRIDES, table

pytestmark = pytest.mark.slow

FEATURES = ["age", "marker", "bmi", "sex", "site"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    table(800, 1).to_csv(tmp / "train.csv", index=False)
    _, run_dir = run_train(tmp, *TRAIN_OVERRIDES, f"data.path={tmp / 'train.csv'}", "monitoring.window=Q")
    new = table(1200, 2)
    new.to_csv(tmp / "new.csv", index=False)
    return run_dir, tmp, new


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The real CLI entry point, in this process (the subprocess start-up of torch costs seconds per call)."""
    import contextlib
    import io

    from medtorch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def _predict(run_dir, src, out, *extra):
    return _cli("predict", str(run_dir), "--input", str(src), "--output", str(out), *extra)


def test_run_records_the_spec_and_reference(trained):
    run_dir, _, _ = trained
    manifest = read_json(run_dir / "manifest.json")
    spec = read_json(run_dir / "data_spec.json")
    assert {"data_spec.json", "monitoring_reference.json"} <= set(manifest["artefacts"])
    assert manifest["data_spec"]["origin"] == "derived" and spec["source"]["split"] == "train"
    assert [c["name"] for c in spec["columns"]] == FEATURES
    assert set(spec["known_columns"]) == {"label", "pid", "visit"}


def test_predict_writes_probabilities_and_provenance_without_lightning(trained, tmp_path):
    run_dir, tmp, new = trained
    out = tmp_path / "pred.csv"
    code = ("import sys; from medtorch.cli import main; rc = main(sys.argv[1:]); "
            "bad = [m for m in sys.modules if 'lightning' in m]; assert not bad, bad; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "predict", str(run_dir), "--input", str(tmp / "new.csv"),
                           "--output", str(out), "--chunk-rows", "500"], env=_env(), cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(out)
    manifest = read_json(run_dir / "manifest.json")
    assert len(pred) == 1200 and pred["row"].tolist() == list(range(1, 1201)) and (pred["pid"] == new["pid"]).all()
    probs = pred[["prob_disease", "prob_healthy"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert (np.array(["disease", "healthy"])[probs.argmax(axis=1)] == pred["predicted_class"]).all()
    assert set(pred["run_id"]) == {manifest["run_id"]}
    assert set(pred["spec_sha256"]) == {manifest["artefacts"]["data_spec.json"]}
    assert pred["stack_fingerprint"].nunique() == 1 and len(pred["stack_fingerprint"][0]) == 64
    # chunked and single-pass predictions are identical; the act is in the event log
    whole = tmp_path / "whole.csv"
    assert _predict(run_dir, tmp / "new.csv", whole).returncode == 0
    pd.testing.assert_frame_equal(pred, pd.read_csv(whole))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[-1]["action"] == "predicted" and events[-1]["details"]["predicted"] == 1200


def _bad(new: pd.DataFrame, kind: str) -> pd.DataFrame:
    d = new.head(50).astype(object).copy()
    if kind == "missing_column":
        return d.drop(columns=["marker"])
    if kind == "extra_column":
        return d.assign(smoker="no")
    if kind == "wrong_type":
        d.loc[4, "marker"] = "high"
    elif kind == "out_of_range":
        d.loc[4, "age"] = 150
    elif kind == "unseen_category":
        d.loc[4, "site"] = "Z"
    elif kind == "missing_value":
        d.loc[4, "sex"] = None
    return d


@pytest.mark.parametrize("kind,column,row,rule", [
    ("missing_column", "marker", "all rows", "required column"),
    ("extra_column", "smoker", "all rows", "column not in the specification"),
    ("wrong_type", "marker", "row 5", "type float: a number"),
    ("out_of_range", "age", "row 5", "range ["),
    ("unseen_category", "site", "row 5", "a category seen in training"),
    ("missing_value", "sex", "row 5", "missing value not allowed"),
])
def test_each_violation_refuses_the_input_and_writes_nothing(trained, tmp_path, kind, column, row, rule):
    run_dir, _, new = trained
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _bad(new, kind).to_csv(src, index=False)
    proc = _predict(run_dir, src, out)
    assert proc.returncode == 2, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if f"| {column} |" in ln)
    assert line.strip().startswith(row) and rule in line
    assert "no output was written" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))


def test_predict_puts_the_interpreters_switch_interval_back(trained, tmp_path):
    import sys

    run_dir, tmp, new = trained
    before = sys.getswitchinterval()
    assert _predict(run_dir, tmp / "new.csv", tmp_path / "ok.csv").returncode == 0
    assert sys.getswitchinterval() == before
    _bad(new, "out_of_range").to_csv(tmp_path / "bad.csv", index=False)
    assert _predict(run_dir, tmp_path / "bad.csv", tmp_path / "refused.csv").returncode == 2
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("name,content,message", [
    ("in.csv", b"", "is empty (0 bytes)"),
    ("in.csv", b"age,marker,bmi,sex,site\n", "has a header (5 columns) but no data rows"),
    ("in.csv", bytes(range(256)) * 8, "could not be decoded as UTF-8 CSV"),
    ("in.parquet", b"age,marker\n1,2\n", "could not be decoded as Parquet"),
    ("empty.parquet", None, "has a header (5 columns) but no data rows"),
    ("ragged.csv", b"age,marker,bmi,sex,site\n50,1.2,24,F,A\n51,1.3,25,M\n", "is not a well-formed CSV file"),
])
def test_empty_and_undecodable_files_are_refused(trained, tmp_path, name, content, message):
    """Refused with what is wrong with the file, and, as every refusal, recorded as one event of the run."""
    run_dir, _, new = trained
    src = tmp_path / name
    if content is None:
        new[FEATURES].head(0).to_parquet(src)
    else:
        src.write_bytes(content)
    listing = tmp_path / "violations.csv"
    listing.write_text("an earlier listing\n")
    proc = _predict(run_dir, src, tmp_path / "out.csv", "--violations", listing)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out.csv").exists()
    assert listing.read_text() == "an earlier listing\n"  # no rows were checked: nothing replaces it
    last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "prediction_refused" and message in last["details"]["reason"]
    assert last["details"]["input"] == str(src.resolve()) and last["inputs"][str(src.resolve())]


def test_undecodable_bytes_after_the_first_chunk_refuse_the_whole_file(trained, tmp_path):
    run_dir, _, new = trained
    d = new.head(300).copy()
    d.loc[250, "site"] = "B\u00e9"
    (tmp_path / "in.csv").write_bytes(d.to_csv(index=False).encode("latin-1"))
    proc = _predict(run_dir, tmp_path / "in.csv", tmp_path / "out.csv", "--chunk-rows", "100")
    assert proc.returncode == 2 and "could not be decoded as UTF-8 CSV: UnicodeDecodeError" in proc.stderr
    assert not (tmp_path / "out.csv").exists()


def test_parquet_input_is_predicted_like_csv(trained, tmp_path):
    run_dir, tmp, new = trained
    new.head(200).to_parquet(tmp_path / "in.parquet")
    new.head(200).to_csv(tmp_path / "in.csv", index=False)
    assert _predict(run_dir, tmp_path / "in.parquet", tmp_path / "a.csv").returncode == 0
    assert _predict(run_dir, tmp_path / "in.csv", tmp_path / "b.csv").returncode == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))


def test_every_violation_is_counted_and_listed(trained, tmp_path):
    run_dir, _, new = trained
    d = new.astype(object).copy()
    d.loc[::3, "site"] = "Z"  # 400 rows
    d.loc[1, "age"] = "old"
    d.to_csv(tmp_path / "in.csv", index=False)
    proc = _predict(run_dir, tmp_path / "in.csv", tmp_path / "out.csv", "--chunk-rows", "100",
                    "--violations", str(tmp_path / "v.csv"))
    assert proc.returncode == 2 and "401 violation(s) in 401 of 1200 row(s)" in proc.stderr
    listing = pd.read_csv(tmp_path / "v.csv")
    assert len(listing) == 401 and set(listing["column"]) == {"site", "age"}
    assert sorted(listing.loc[listing["column"] == "site", "row"]) == list(range(1, 1201, 3))


def test_quarantine_predicts_valid_rows_and_sets_aside_the_rest(trained, tmp_path):
    run_dir, _, new = trained
    d = new.head(100).astype(object).copy()
    d.loc[[3, 10], "age"] = 500
    d.loc[10, "sex"] = "?"
    d.loc[20, "marker"] = "high"
    d.to_csv(tmp_path / "in.csv", index=False)
    proc = _predict(run_dir, tmp_path / "in.csv", tmp_path / "out.csv", "--on-invalid", "quarantine")
    assert proc.returncode == 0, proc.stderr
    pred, rej = pd.read_csv(tmp_path / "out.csv"), pd.read_csv(tmp_path / "out.rejected.csv", dtype=str)
    assert len(pred) == 97 and not set(pred["row"]) & {4, 11, 21}
    assert rej["row"].tolist() == ["4", "11", "21"]
    assert "age: range" in rej["reasons"][1] and "sex: a category" in rej["reasons"][1]
    assert rej["marker"][2] == "high" and "type float" in rej["reasons"][2]


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(trained, tmp_path):
    run_dir, _, new = trained
    src = tmp_path / "in.csv"
    new.head(50).to_csv(src, index=False)
    before = src.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(src)
    for out, extra in ((src, ()), (tmp_path / "sub" / ".." / "in.csv", ()), (tmp_path / "link.csv", ()),
                       (tmp_path / "out.csv", ("--on-invalid", "quarantine", "--rejected", str(src))),
                       (tmp_path / "out.csv", ("--violations", str(src)))):
        proc = _predict(run_dir, src, out, *extra)
        assert proc.returncode == 2 and "is the input file" in proc.stderr, (out, extra, proc.stderr)
        assert src.read_bytes() == before
        assert not (tmp_path / "out.csv").exists()
    proc = _predict(run_dir, src, tmp_path / "out.csv", "--violations", str(tmp_path / "out.csv"))
    assert proc.returncode == 2 and "are the same file" in proc.stderr, proc.stderr
    assert not (tmp_path / "out.csv").exists()
    # the rejected file's default name (out.csv -> out.rejected.csv) is the input: named as the default, not as a
    # --rejected the user never gave, and the fix names the option that sets it
    named = tmp_path / "p.rejected.csv"
    named.write_bytes(before)
    proc = _predict(run_dir, named, tmp_path / "p.csv", "--on-invalid", "quarantine")
    assert proc.returncode == 2 and named.read_bytes() == before, proc.stderr
    assert f"the default rejected file {named} (--rejected not given) is the input file" in proc.stderr, proc.stderr
    assert "Give --rejected another file" in proc.stderr and not (tmp_path / "p.csv").exists()


def test_an_output_path_of_the_wrong_kind_is_bad_input(trained, tmp_path):
    """predict's --output naming a directory and monitor's --out naming a file: one line, exit 2, nothing written."""
    run_dir, _, new = trained
    src = tmp_path / "in.csv"
    new.head(50).to_csv(src, index=False)
    (tmp_path / "a_dir").mkdir()
    events = (run_dir / "events.jsonl").read_bytes()
    proc = _predict(run_dir, src, tmp_path / "a_dir")
    assert proc.returncode == 2 and f"--output {tmp_path / 'a_dir'} is a directory" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not any((tmp_path / "a_dir").iterdir())
    proc = _cli("monitor", str(run_dir), "--input", str(src), "--out", str(src))
    assert proc.returncode == 2 and f"--out {src} is a file" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and (run_dir / "events.jsonl").read_bytes() == events


def test_outputs_inside_a_run_directory_are_refused_and_the_run_untouched(trained, tmp_path):
    """predict's --output, --rejected and --violations and monitor's --out never write over or beside a run's
    recorded evidence (this run's or another's): exit 2, one line, nothing written. monitor's --out may name a new
    folder under the monitored run's own monitoring folder, where it records what it writes."""
    run_dir, _, new = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    src = tmp_path / "in.csv"
    new.head(50).to_csv(src, index=False)
    (tmp_path / "afile").write_text("x")
    sub = next(p for p in sorted(run.iterdir()) if p.is_dir() and p.name not in ("monitoring", ".hydra"))
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    out = tmp_path / "out.csv"
    cases = [(("predict", run, "--input", src, "--output", run / "metrics.json"), "inside the medtorch run directory"),
             (("predict", run_dir, "--input", src, "--output", run / "model.json"), "inside the medtorch run directory"),
             (("predict", run, "--input", src, "--output", run / "new" / "p.csv"), "inside the medtorch run directory"),
             (("predict", run, "--input", src, "--output", out, "--on-invalid", "quarantine", "--rejected", sub / "r.csv"),
              f"--rejected {sub / 'r.csv'} lies inside"),
             (("predict", run, "--input", src, "--output", out, "--violations", run / "v.csv"), "--violations"),
             (("predict", run, "--input", src, "--output", tmp_path / "afile" / "p.csv"), "is a file, not a folder"),
             (("monitor", run, "--input", src, "--out", run), "inside the medtorch run directory"),
             (("monitor", run, "--input", src, "--out", sub), "inside the medtorch run directory"),
             (("monitor", run_dir, "--input", src, "--out", run / "monitoring" / "x"), "inside the medtorch run directory"),
             (("monitor", run, "--input", src, "--out", tmp_path / "afile" / "m"), "is a file, not a folder")]
    for args, message in cases:
        proc = _cli(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 2, proc.stderr
        assert not out.exists() and not (run / "new").exists()
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before, args
    proc = _cli("monitor", run, "--input", src, "--out", run / "monitoring" / "mine")
    assert proc.returncode in (0, 9), proc.stdout + proc.stderr  # 9: drift on these 50 rows is allowed
    assert (run / "monitoring" / "mine" / "report.json").is_file()
    assert _cli("audit", "verify", run).returncode == 0
    proc = _cli("monitor", run, "--input", src, "--out", run / "monitoring" / "mine")  # an earlier report's folder
    assert proc.returncode == 2 and "inside the medtorch run directory" in proc.stderr, proc.stderr


def test_monitor_refuses_to_append_to_a_changed_monitoring_log(trained, tmp_path):
    """A truncated, edited or removed monitoring log is refused (exit 3) before anything is written: appending to
    it would record the change as the run's own, and audit verify would then pass."""
    run_dir, tmp, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    log = run / "monitoring" / "log.jsonl"
    if not log.exists():
        assert _monitor(run, tmp / "new.csv").returncode in (0, 9)
    good = log.read_bytes()
    for name, change in (("truncated", lambda: log.write_bytes(good[: len(good) // 2])),
                         ("edited", lambda: log.write_bytes(good.replace(b'"rows": ', b'"rows": 1'))),
                         ("removed", log.unlink)):
        change()
        damaged = log.read_bytes() if log.exists() else None
        folders = sorted((run / "monitoring").iterdir())
        events = (run / "events.jsonl").read_bytes()
        proc = _monitor(run, tmp / "new.csv")
        assert proc.returncode == 3 and "monitoring/log.jsonl" in proc.stderr, (name, proc.stdout, proc.stderr)
        assert (log.read_bytes() if log.exists() else None) == damaged, name
        assert sorted((run / "monitoring").iterdir()) == folders and (run / "events.jsonl").read_bytes() == events
        assert _cli("audit", "verify", run).returncode == 3, name
        log.write_bytes(good)
    assert _monitor(run, tmp / "new.csv").returncode in (0, 9)


def test_monitorings_at_once_take_turns_and_keep_their_own_reports(trained, tmp_path, monkeypatch):
    """Two monitorings of one run at the same time (a cron job and a user) wait for the run's event-log lock held by
    another writer, then each appends its own line; started in the same millisecond, each gets its own folder, so
    neither overwrites the other's hashed report and audit verify passes."""
    import threading
    import time

    from medtorch import audit
    from medtorch.deploy.monitor import monitor_file
    from medtorch.locking import event_log_lock

    run_dir, tmp, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    started = time.perf_counter()
    monitor_file(run, tmp / "new.csv")  # alone: how long one takes here
    alone = time.perf_counter() - started
    log = run / "monitoring" / "log.jsonl"
    lines = len(log.read_text().splitlines())
    now = audit.utc_now()
    monkeypatch.setattr(audit, "utc_now", lambda: now)  # both stamp the same millisecond
    results: list = []
    before = (log.read_bytes(), (run / "events.jsonl").read_bytes(), sorted((run / "monitoring").iterdir()))
    with event_log_lock(run / "events.jsonl"):  # another writer holds the run's event log
        workers = [threading.Thread(target=lambda: results.append(monitor_file(run, tmp / "new.csv"))) for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(2 * alone + 1)  # each has done its reading and analysis; neither may write while the lock is held
        assert all(w.is_alive() for w in workers) and not results
        assert (log.read_bytes(), (run / "events.jsonl").read_bytes(), sorted((run / "monitoring").iterdir())) == before
    for w in workers:
        w.join(timeout=120)
    assert len(results) == 2, results
    folders = sorted(folder for _, folder, _ in results)
    stamp = now.replace(":", "").replace("-", "").replace(".", "")
    assert [f.name for f in folders] == [stamp, f"{stamp}_2"], folders
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(entries) == lines + 2 and sorted(e["report"] for e in entries[-2:]) == [str(f.resolve()) for f in folders]
    assert _cli("audit", "verify", run).returncode == 0


def test_monitor_out_that_holds_a_report_is_refused_and_kept(trained, tmp_path):
    run_dir, tmp, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    assert _monitor(run, tmp / "new.csv", "--out", tmp_path / "rep").returncode in (0, 9)
    kept = {p.name: p.read_bytes() for p in (tmp_path / "rep").rglob("*") if p.is_file()}
    events = (run / "events.jsonl").read_bytes()
    proc = _monitor(run, tmp / "new.csv", "--out", tmp_path / "rep")
    assert proc.returncode == 2 and "already holds a monitoring report" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "rep").rglob("*") if p.is_file()} == kept
    assert (run / "events.jsonl").read_bytes() == events and _cli("audit", "verify", run).returncode == 0


def test_monitorings_of_two_runs_into_one_out_folder_do_not_overwrite_each_other(trained, tmp_path, monkeypatch):
    """Each run's lock does not exclude the other run: the chosen folder is locked itself, so one monitoring writes
    there and the other, finding its report, is refused; each run's audit verify passes, and the folder is left
    with no lock file in it."""
    import threading
    import time

    from medtorch.deploy import monitor_report
    from medtorch.deploy.monitor import monitor_file
    from medtorch.errors import MedtorchError

    run_dir, tmp, _ = trained
    runs = [tmp_path / "run_a", tmp_path / "run_b"]
    for run in runs:
        shutil.copytree(run_dir, run)
    events = {run: (run / "events.jsonl").read_bytes() for run in runs}
    write = monitor_report.write_report

    def slow_write(*args, **kwargs):  # both have checked the folder before either writes, unless one waits
        time.sleep(1.5)
        return write(*args, **kwargs)

    monkeypatch.setattr(monitor_report, "write_report", slow_write)
    out = tmp_path / "shared"
    outcomes: dict = {}

    def monitor(run):
        try:
            outcomes[run] = monitor_file(run, tmp / "new.csv", out=out)[2]
        except MedtorchError as e:
            outcomes[run] = e

    workers = [threading.Thread(target=monitor, args=(run,)) for run in runs]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=180)
    refused = [run for run in runs if isinstance(outcomes[run], MedtorchError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "already holds a monitoring report" in str(outcomes[refused[0]])
    assert (refused[0] / "events.jsonl").read_bytes() == events[refused[0]]
    for run in runs:
        assert _cli("audit", "verify", run).returncode == 0, run
    assert sorted(p.name for p in out.iterdir() if "lock" in p.name) == []

def test_an_input_smaller_than_min_window_rows_is_reported_without_an_alarm(trained, tmp_path):
    """Five unchanged rows: PSI and the tests alarm on chance there (they flagged drift in most columns), so the input as
    a whole follows the rule of a small window: shown, judged for nothing, exit 0."""
    run_dir, tmp, new = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    new.head(5).to_csv(tmp_path / "five.csv", index=False)
    proc = _monitor(run, tmp_path / "five.csv", "--labels", "label", "--out", tmp_path / "rep")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = read_json(tmp_path / "rep" / "report.json")
    assert report["status"] == "ok" and report["overall"]["judged"] is False and report["alarms"]["drift"] == []
    assert report["overall"]["drifted_columns"]  # the columns' own flags are kept, for the reader
    assert "not judged: fewer than monitoring.min_window_rows (100) rows" in proc.stdout
    assert "fewer than 100 rows: it is shown but raises no alarm" in (tmp_path / "rep" / "report.md").read_text()
    assert _cli("audit", "verify", run).returncode == 0

def test_a_degradation_alarm_needs_min_window_rows_labelled_rows(trained, tmp_path):
    """150 rows, 5 of them labelled (and labelled wrongly): an MCC on 5 rows raised exit 5 (and, with on_degradation=block,
    would block predict). Performance is judged only on min_window_rows labelled, predicted rows."""
    run_dir, tmp, new = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    few = new.head(150).copy()
    classes = sorted(few["label"].unique())
    few["label"] = [classes[1 - classes.index(v)] if i < 5 else None for i, v in enumerate(few["label"])]
    few.to_csv(tmp_path / "few.csv", index=False)
    proc = _monitor(run, tmp_path / "few.csv", "--labels", "label", "--out", tmp_path / "rep")
    assert proc.returncode in (0, 9), proc.stdout + proc.stderr  # drift may be judged (150 rows); performance is not
    report = read_json(tmp_path / "rep" / "report.json")
    assert report["overall"]["labelled"] == 5 and report["overall"]["judged_degradation"] is False
    assert report["alarms"]["degradation"] == [] and report["overall"]["degradation"]["breaches"]
    assert "performance not judged: 5 labelled, predicted rows" in proc.stdout

def test_monitoring_predicts_in_predicts_batches_whatever_its_chunks(trained, tmp_path):
    """monitor gathers its predicted classes through predict's batches: with --chunk-rows 7 they are the classes
    predict writes for the same rows."""
    from medtorch.deploy.checks import SpecChecker
    from medtorch.deploy.gather import gather
    from medtorch.deploy.spec import read_run_spec
    from medtorch.stack.gate import require_bridged_stack

    run_dir, tmp, new = trained
    new.head(60).to_csv(tmp_path / "sixty.csv", index=False)
    assert _predict(run_dir, tmp_path / "sixty.csv", tmp_path / "p.csv").returncode == 0
    written = pd.read_csv(tmp_path / "p.csv")
    run = require_bridged_stack(run_dir, "monitor")
    g = gather(run, SpecChecker(read_run_spec(run.rd, run.manifest)[0]), tmp_path / "sixty.csv", None, None, None,
               chunk_rows=7)
    assert g.valid.all() and [run.classes[k] for k in g.pred] == written["predicted_class"].astype(str).tolist()

def test_a_repeated_header_name_and_a_folder_as_input_are_named(trained, tmp_path):
    """A repeated name was read as 'name.1' and reported as an unknown column the file does not have; a folder given as
    --input was 'not found'."""
    run_dir, tmp, new = trained
    text = (tmp / "new.csv").read_text().splitlines()
    first = text[0].split(",")[0]
    (tmp_path / "twice.csv").write_text("\n".join([text[0] + "," + first] + [r + "," + r.split(",")[0] for r in text[1:6]]))
    proc = _predict(run_dir, tmp_path / "twice.csv", tmp_path / "out.csv")
    assert proc.returncode == 2 and f"duplicate column name(s): '{first}' at columns 1, " in proc.stderr, proc.stderr
    assert ".1" not in proc.stderr and not (tmp_path / "out.csv").exists()
    proc = _predict(run_dir, tmp_path, tmp_path / "out.csv")
    assert proc.returncode == 2 and "is a directory, not an input file" in proc.stderr, proc.stderr

def test_a_misspelt_labels_column_and_a_path_as_explanation_name_are_named(trained, tmp_path):
    run_dir, tmp, _ = trained
    proc = _monitor(run_dir, tmp / "new.csv", "--labels", "lable")
    assert proc.returncode == 2 and "--labels lable is not a column of the input (did you mean 'label'?)" in proc.stderr
    proc = _cli("explain", run_dir, "--name", str(tmp_path / "x"))
    assert proc.returncode == 2 and "must be a plain folder name (no '/')" in proc.stderr, proc.stderr

def test_tampered_spec_is_refused(trained, tmp_path):
    run_dir, tmp, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    spec = read_json(copy / "data_spec.json")
    spec["columns"][0]["max"] = 1e9
    (copy / "data_spec.json").write_text(json.dumps(spec))
    proc = _predict(copy, tmp / "new.csv", tmp_path / "out.csv")
    assert proc.returncode == 3 and "data_spec.json was changed after the run wrote it" in proc.stderr


def _monitor(run_dir, src, *extra):
    return _cli("monitor", str(run_dir), "--input", str(src), *extra)


def test_monitor_unshifted_data_is_ok(trained):
    run_dir, tmp, _ = trained
    proc = _monitor(run_dir, tmp / "new.csv", "--labels", "label", "--time", "visit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = [json.loads(x) for x in (run_dir / "monitoring" / "log.jsonl").read_text().splitlines()]
    report = read_json(log[-1]["report"] + "/report.json")
    assert report["status"] == "ok" and report["overall"]["drifted_columns"] == []
    assert [w["window"] for w in report["windows"]] == ["2024Q1", "2024Q2"] and all(w["judged"] for w in report["windows"])
    assert report["overall"]["degradation"]["mcc"]["breach"] is False
    assert "status: OK" in (Path(log[-1]["report"]) / "report.md").read_text()


def test_monitoring_log_and_reports_are_verified_also_after_the_run_is_moved(trained, tmp_path):
    """The monitored event records the log and the report's files by run-relative path: a changed
    report or log line fails audit verify (exit 3) in the run and in a moved copy of it."""
    run_dir, tmp, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    proc = _monitor(run, tmp / "new.csv", "--labels", "label", "--time", "visit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    event = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert event["action"] == "monitored" and "monitoring/log.jsonl" in event["outputs"]
    folder = event["details"]["report"]
    assert not Path(folder).is_absolute() and f"{folder}/report.json" in event["outputs"]
    assert _cli("audit", "verify", run).returncode == 0
    moved = tmp_path / "archive" / "run"
    shutil.copytree(run, moved)
    assert _cli("audit", "verify", moved).returncode == 0
    for name, change in ((f"{folder}/report.json", lambda t: t.replace('"ok"', '"OK"')),
                         ("monitoring/log.jsonl", lambda t: t + '{"x": 1}\n')):
        copy = tmp_path / f"tampered_{len(name)}"
        shutil.copytree(moved, copy)
        (copy / name).write_text(change((copy / name).read_text()))
        out = _cli("audit", "verify", copy)
        assert out.returncode == 3 and name in out.stdout + out.stderr, (name, out.stdout, out.stderr)


def test_monitor_window_options_are_refused_in_their_own_words(trained, tmp_path):
    run_dir, tmp, _ = trained
    log = run_dir / "monitoring" / "log.jsonl"
    before = log.read_bytes() if log.exists() else None
    proc = _monitor(run_dir, tmp / "new.csv", "--window", "M", "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "--window M sets the calendar windows of --time" in proc.stderr, proc.stderr
    one = table(200, 3)
    one["visit"] = "2024-03-15"  # every row in one month: by month, there is nothing to compare
    one.to_csv(tmp_path / "one.csv", index=False)
    proc = _monitor(run_dir, tmp_path / "one.csv", "--time", "visit", "--window", "M", "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and "choose a finer --window" in proc.stderr, proc.stderr
    assert "evaluation.period" not in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert (log.read_bytes() if log.exists() else None) == before


def test_monitor_detects_drift_with_exit_9(trained, tmp_path):
    run_dir, _, _ = trained
    table(1200, 3, shift=1.0).to_csv(tmp_path / "shift.csv", index=False)
    proc = _monitor(run_dir, tmp_path / "shift.csv", "--out", str(tmp_path / "rep"), "--time", "visit", "--window", "M")
    assert proc.returncode == 9, proc.stdout + proc.stderr
    report = read_json(tmp_path / "rep" / "report.json")
    assert [w["window"] for w in report["windows"]] == [f"2024-0{m}" for m in range(1, 7)]
    assert all("marker" in w["drifted_columns"] for w in report["windows"])
    assert {"marker", "age"} <= set(report["overall"]["drifted_columns"]) and report["overall"]["prediction"]["drift"]
    assert not {"sex", "site"} & set(report["overall"]["drifted_columns"])
    assert (tmp_path / "rep" / "plots" / "psi.png").is_file() and "DRIFT" in (tmp_path / "rep" / "report.md").read_text()


def test_degradation_breach_exits_5_and_blocks_predict_until_released(trained, tmp_path):
    run_dir, tmp, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    good, worse = table(600, 4, start="2024-01-01"), table(600, 5, flip=0.45, start="2024-07-01")
    pd.concat([good, worse]).to_csv(tmp_path / "flip.csv", index=False)
    proc = _monitor(run, tmp_path / "flip.csv", "--labels", "label", "--time", "visit", "--out", str(tmp_path / "rep"))
    assert proc.returncode == 5, proc.stdout + proc.stderr
    report = read_json(tmp_path / "rep" / "report.json")
    by_window = {w["window"]: w["degradation"]["mcc"] for w in report["windows"]}
    assert not by_window["2024Q1"]["breach"] and by_window["2024Q3"]["breach"]
    assert (tmp_path / "rep" / "plots" / "mcc_by_window.png").is_file()
    assert report["fail_mode"] == "predictions blocked until reviewed"
    blocked = _predict(run, tmp / "new.csv", tmp_path / "out.csv")
    assert blocked.returncode == 6 and "blocked" in blocked.stderr and "MCC" in blocked.stderr
    assert not (tmp_path / "out.csv").exists()
    released = _cli("unblock", str(run), "--reason", "site retrained staff; labels audited")
    assert released.returncode == 0, released.stderr
    assert _predict(run, tmp / "new.csv", tmp_path / "out.csv").returncode == 0
    events = [json.loads(x)["action"] for x in (run / "events.jsonl").read_text().splitlines()]
    assert events[-4:] == ["monitored", "predictions_blocked", "predictions_unblocked", "predicted"]


def test_a_breach_blocks_predictions_in_the_same_turn_of_the_lock_as_its_monitoring(trained, tmp_path, monkeypatch):
    """The block is appended while the monitoring still holds the run's event-log lock, so no other writer (an
    unblock, another monitoring) can land between the breach's event and its block."""
    from medtorch.deploy import block as block_module
    from medtorch.deploy.monitor import monitor_file
    from medtorch.locking import event_log_lock

    run_dir, _, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    good, worse = table(600, 4, start="2024-01-01"), table(600, 5, flip=0.45, start="2024-07-01")
    pd.concat([good, worse]).to_csv(tmp_path / "flip.csv", index=False)
    held: list[bool] = []
    real = block_module.block

    def watched(rd, reason, report):
        held.append(event_log_lock(rd.events).is_locked)  # this thread's hold: the lock is thread-local
        return real(rd, reason, report)

    monkeypatch.setattr(block_module, "block", watched)
    _, _, code = monitor_file(run, tmp_path / "flip.csv", labels="label", time_column="visit", out=tmp_path / "rep")
    assert code == 5 and held == [True]
    events = [json.loads(x)["action"] for x in (run / "events.jsonl").read_text().splitlines()]
    assert events[-2:] == ["monitored", "predictions_blocked"]
    assert _cli("audit", "verify", run).returncode == 0


def test_monitor_reads_in_chunks_with_the_same_result(trained, tmp_path):
    """Chunks of 64 rows give the report one chunk gives: drift, windows, degradation and violations."""
    from medtorch.deploy.checks import SpecChecker
    from medtorch.deploy.gather import gather
    from medtorch.deploy.spec import read_run_spec
    from medtorch.stack.gate import require_bridged_stack

    run_dir, _, _ = trained
    new = table(700, 6, shift=0.3)
    new["marker"] = new["marker"].astype(object)
    new.loc[[5, 130, 600], "marker"] = "high"  # type violations in three chunks
    new.loc[new.index % 9 == 0, "site"] = None  # missing where training had none
    new.loc[new.index % 11 == 0, "label"] = None
    new.to_csv(tmp_path / "new.csv", index=False)
    reports = {}
    for rows in ("64", "100000"):
        run = tmp_path / f"run{rows}"  # a copy: a degradation block must not reach the other tests
        shutil.copytree(run_dir, run)
        proc = _monitor(run, tmp_path / "new.csv", "--labels", "label", "--time", "visit", "--window", "M",
                        "--chunk-rows", rows, "--out", str(tmp_path / f"rep{rows}"))
        assert proc.returncode in (0, 5, 9), proc.stdout + proc.stderr
        reports[rows] = read_json(tmp_path / f"rep{rows}" / "report.json")
    a, b = reports["64"], reports["100000"]
    assert a["spec_violations"] == b["spec_violations"] and a["spec_violations"]["marker: type float: a number"] == 3
    assert a["rows"] == 700 and a["rows_violating_spec"] == b["rows_violating_spec"] > 70
    assert a["overall"] == b["overall"] and a["windows"] == b["windows"] and len(a["windows"]) == 6
    assert a["overall"]["labelled"] == b["overall"]["labelled"] < a["overall"]["n_predicted"]

    run = require_bridged_stack(tmp_path / "run64", "monitor")
    checker = SpecChecker(read_run_spec(run.rd, run.manifest)[0])
    g = gather(run, checker, tmp_path / "new.csv", "label", "visit", "M", chunk_rows=64)
    assert {k: v.dtype for k, v in g.numeric.items()} == {"age": np.float64, "marker": np.float64, "bmi": np.float64}
    assert all(v.dtype == np.int32 and len(v) == 700 for v in g.codes.values()) and g.levels["sex"] == ["F", "M"]
    assert g.pred.dtype == np.int32 and g.window.dtype == np.int32 and len(g.windows) == 6


def test_an_explanation_name_in_use_is_refused_before_the_run_is_loaded(trained, tmp_path):
    run_dir, _, _ = trained
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "explanations" / "taken").mkdir(parents=True)
    before = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
    proc = _cli("explain", run, "--name", "taken", "--dtype", "float64")  # another stack: a bridge would be written
    assert proc.returncode == 2 and "exists (an earlier explanation); choose another name" in proc.stderr, proc.stderr
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == before
