"""The Run: one call records an artefact (atomic write, hash, manifest entry, event); reads verify the hash first."""

from __future__ import annotations

import json

import pytest

from medtorch.audit import EventLog, file_hashes
from medtorch.errors import EXIT_INTEGRITY, IntegrityError
from medtorch.evidence import REPLACE, VERSIONED, WRITE_ONCE, Run
from medtorch.hashing import sha256_file
from medtorch.integrity import verify_run
from medtorch.manifest import FORMAT_VERSION, Manifest
from medtorch.run import RunDir


def _run(tmp_path) -> Run:
    run = Run(RunDir(tmp_path / "run"), Manifest(run_id="r1"))
    run.root.mkdir()
    run.save_manifest()
    return run


def test_one_call_writes_hashes_enters_the_manifest_and_logs_the_event(tmp_path):
    run = _run(tmp_path)
    out = run.record(run.rd.split, {"parts": {"train": 3}}, event="split_made", details={"rows": 3},
                     inputs={"data": "ab" * 32})
    path = run.rd.split
    assert json.loads(path.read_text()) == {"parts": {"train": 3}}
    assert out == {"split.json": sha256_file(path)}
    assert run.manifest.artefacts["split.json"] == sha256_file(path)
    [event] = EventLog(run.rd.events).records()
    assert (event["action"], event["details"], event["outputs"], event["inputs"]) == (
        "split_made", {"rows": 3}, out, {"data": "ab" * 32})
    assert not list(run.root.glob(".*.tmp"))
    assert run.read_json(path) == {"parts": {"train": 3}}


def test_a_read_checks_the_recorded_hash_first_and_names_the_file(tmp_path):
    run = _run(tmp_path)
    run.record(run.rd.metrics, {"mcc": 0.5}, event="validation_evaluated")
    run.rd.metrics.write_text(json.dumps({"mcc": 0.9}))  # edited after the fact
    for reader in (run, Run.open(run.root)):  # in the writing process, and a later verb reading the log
        with pytest.raises(IntegrityError) as e:
            reader.read_json(run.rd.metrics)
        assert "metrics.json" in str(e.value) and "changed after the run recorded it" in str(e.value)
        assert e.value.exit_code == EXIT_INTEGRITY


def test_a_file_the_run_never_recorded_is_not_read(tmp_path):
    run = _run(tmp_path)
    run.rd.eda.write_text("{}")
    run.event("something", {})
    with pytest.raises(IntegrityError, match="never recorded a hash"):
        Run.open(run.root).read_json(run.rd.eda)


def test_write_once_refuses_other_content_and_accepts_the_same_again(tmp_path):
    run = _run(tmp_path)
    run.record(run.rd.preprocessing, {"mean": [1.0]}, kind=WRITE_ONCE, event="preprocessing_fitted")
    run.record(run.rd.preprocessing, {"mean": [1.0]}, kind=WRITE_ONCE, event="preprocessing_fitted")  # a resume
    with pytest.raises(IntegrityError, match="write-once") as e:
        run.record(run.rd.preprocessing, {"mean": [2.0]}, kind=WRITE_ONCE, event="preprocessing_fitted")
    assert e.value.exit_code == EXIT_INTEGRITY
    assert json.loads(run.rd.preprocessing.read_text()) == {"mean": [1.0]}
    assert [r["action"] for r in EventLog(run.rd.events).records()] == ["preprocessing_fitted"] * 2


def test_versioned_keeps_every_version_and_logs_each(tmp_path):
    run = _run(tmp_path)
    first = run.record(run.rd.report_md, "version one\n", kind=VERSIONED, event="report_written")
    second = run.record(run.rd.report_md, "version two\n", kind=VERSIONED, event="report_written")
    assert run.rd.report_md.read_text() == "version two\n"
    kept = list((run.root / "versions").rglob("report.md@*"))
    assert len(kept) == 1 and kept[0].read_text() == "version one\n"
    assert kept[0].name == f"report.md@{first['report.md'][:16]}"
    events = EventLog(run.rd.events).records()
    assert [e["outputs"] for e in events] == [first, second]
    v = verify_run(run.root)
    assert v.ok, v.problems


def test_replace_rewrites_in_place(tmp_path):
    run = _run(tmp_path)
    run.record(run.rd.metrics, {"a": 1}, kind=REPLACE)
    run.record(run.rd.metrics, {"a": 2}, kind=REPLACE)
    assert json.loads(run.rd.metrics.read_text()) == {"a": 2} and not (run.root / "versions").exists()


def test_a_missing_file_a_step_declared_is_an_error_unless_optional(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(IntegrityError, match="b.json: declared as written by this step but not found"):
        file_hashes(tmp_path, [tmp_path / "a.json", tmp_path / "b.json"])
    assert list(file_hashes(tmp_path, [tmp_path / "a.json", tmp_path / "b.json"], optional=True)) == ["a.json"]
    run = _run(tmp_path)
    with pytest.raises(IntegrityError, match="model.pt"):
        run.record(run.rd.metrics, {"a": 1}, event="validation_evaluated", also=[run.rd.model_weights])


def test_the_null_writer_writes_nothing(tmp_path):
    run = Run.null(tmp_path / "rank1")
    run.record(run.rd.split, {"x": 1}, kind=WRITE_ONCE, event="split_made")
    run.update_manifest(data={"sha256": "0" * 64})
    run.event("data_loaded", {}, inputs=[run.rd.split])
    run.finish("complete", required=[run.rd.split])
    assert not (tmp_path / "rank1").exists()
    assert run.manifest.data == {"sha256": "0" * 64}  # the state a later step reads is still there


def test_manifest_is_strict_and_versioned():
    current = Manifest(run_id="r").to_dict()
    assert current["format_version"] == FORMAT_VERSION == 2
    legacy = {k: v for k, v in current.items() if k != "format_version"}
    assert Manifest.from_dict(legacy).format_version == 1  # written by the code before the version existed
    assert "format_version" not in Manifest.from_dict(legacy).to_dict()  # format 1 keeps its shape
    with pytest.raises(IntegrityError, match=r"unknown manifest key\(s\) \['colour'\]"):
        Manifest.from_dict({**current, "colour": "red"})
    with pytest.raises(IntegrityError, match="format_version 3"):
        Manifest.from_dict({**current, "format_version": 3})
    with pytest.raises(IntegrityError, match="run_id"):
        Manifest.from_dict({"status": "complete"})
    m = Manifest.from_dict({**current, "data": {"sha256": "x"}})
    assert m["data"]["sha256"] == "x" and m.get("registry") is None and "registry" not in m


def test_a_run_directory_given_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Run(RunDir("runs/a"), Manifest(run_id="r"))
    run.record(run.rd.config, "seed: 0\n", event="run_started")
    run.record("lineage.md", "x\n")  # a bare run-relative name
    assert (tmp_path / "runs/a/config.yaml").read_text() == "seed: 0\n" and (tmp_path / "runs/a/lineage.md").is_file()
    assert set(run.manifest.artefacts) == {"config.yaml", "lineage.md"}
    assert run.read_bytes("config.yaml") == b"seed: 0\n"


def test_a_run_missing_an_artefact_every_complete_run_has_ends_failed(tmp_path):
    run = _run(tmp_path)
    run.record(run.rd.split, {"x": 1}, event="split_made")
    with pytest.raises(IntegrityError, match="metrics.json: declared as written"):
        run.finish("complete", required=[run.rd.split, run.rd.metrics], optional=[run.rd.eda])
    manifest = json.loads(run.rd.manifest.read_text())
    assert manifest["status"] == "failed" and "metrics.json" in manifest["error"]
    assert manifest["artefacts"] == {"split.json": sha256_file(run.rd.split)}
    assert EventLog(run.rd.events).records()[-1]["action"] == "run_failed"
    assert verify_run(run.root).ok


def test_the_kind_comes_from_the_declaration_and_an_undeclared_file_is_refused(tmp_path):
    run = _run(tmp_path)
    run.record(run.rd.split, {"x": 1}, event="split_made")  # declared write-once in medtorch.artefacts
    with pytest.raises(IntegrityError, match="write-once"):
        run.record(run.rd.split, {"x": 2}, event="split_made")
    run.record(run.rd.report_md, "one\n")  # declared versioned: the first version is kept
    run.record(run.rd.report_md, "two\n")
    assert [p.name.split("@")[0] for p in (run.root / "versions").iterdir()] == ["report.md"]
    with pytest.raises(KeyError, match="not a declared artefact"):
        run.record("notes.txt", "x\n")
    assert not (run.root / "notes.txt").exists()
