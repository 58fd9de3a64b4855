"""The artefact registry (medtorch/artefacts.py) is the one list of a run directory's files: RunDir, the
README table, the report's sections and traceability table follow it, no other module spells an
artefact's file name, and real runs hold exactly what it declares."""

from __future__ import annotations

import ast
import inspect
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest

from artefact_literals import artefact_literals, literals
from conftest import REPO, read_json
from medtorch.artefacts import (APPENDED, ARTEFACTS, CV_ROOT, KINDS, RUN, VERSIONED, WRITE_ONCE, artefact, declared,
                                evidence, file_names, of_path, produces, readme_table, record_class, required)
from medtorch.errors import IntegrityError
from medtorch.records import MetricsRecord, ModelSpec, SplitRecord, read_record
from medtorch.run import RunDir

# Modules allowed to spell an artefact's file name besides medtorch/artefacts.py: none. (Kept as a named,
# empty allow-list so a test that must add one says so here, and a stale entry fails.)
TEMPORARY: dict[str, set[str]] = {}


def test_no_module_spells_an_artefact_file_name():
    found: dict[str, set[str]] = {}
    where: dict[str, list[str]] = {}
    for path in sorted((REPO / "medtorch").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel == "medtorch/artefacts.py":
            continue
        for line, name, text in artefact_literals(path):
            found.setdefault(rel, set()).add(name)
            where.setdefault(rel, []).append(f"{rel}:{line}: {text[:90]!r} spells {name}")
    extra = [w for rel, names in found.items() for w in where[rel]
             if any(w.endswith(f"spells {n}") for n in names - TEMPORARY.get(rel, set()))]
    assert not extra, "artefact file names spelt outside medtorch/artefacts.py (use RunDir or artefact(key)):\n" + \
        "\n".join(extra)
    stale = {rel: sorted(names - found.get(rel, set())) for rel, names in TEMPORARY.items() if names - found.get(rel, set())}
    assert not stale, f"allow-listed names no longer spelt; remove them from TEMPORARY: {stale}"


def test_the_scanner_finds_names_in_literals_and_fstrings_not_in_docstrings():
    src = ('"""Writes metrics.json."""\n'
           'def f(rd, split):\n'
           '    """Reads model.pt."""\n'
           '    a = rd.root / f"predictions_{split}.csv"\n'
           '    b = rd.root / "bridge" / "reference.json"\n'
           '    c = "a message naming events.jsonl line 3"\n'
           '    d = "nothing.txt", "metrics_json"\n')
    path = Path(__import__("tempfile").mkdtemp()) / "m.py"
    path.write_text(src)
    hits = {(line, name) for line, name, _ in artefact_literals(path)}
    assert hits == {(4, "predictions_{split}.csv"), (5, "reference.json"), (6, "events.jsonl")}
    assert (1, "Writes metrics.json.") not in literals(src)


def test_registry_is_well_formed():
    keys = [a.key for a in ARTEFACTS]
    assert len(keys) == len(set(keys))
    for scope in (RUN, CV_ROOT):
        paths = [a.path for a in ARTEFACTS if a.scope == scope]
        assert len(paths) == len(set(paths)), scope
    from medtorch.report.sections import SECTIONS

    sections = {s.key for s in SECTIONS}
    for a in ARTEFACTS:
        assert a.kind in KINDS and a.producer and a.text, a.key
        assert a.section in sections | {""}, (a.key, a.section)
        assert of_path(a.relative(**{f.split(":")[0]: 7 if f.startswith("n") else "x" for f in a.fields}), a.scope) is a \
            or a.key in {"checkpoint", "explanation_plot"}, a.key
        if a.record:
            assert hasattr(record_class(a.key), "from_dict"), a.record
    with pytest.raises(KeyError, match="no artefact 'model_card'"):
        artefact("model_card")
    assert declared("bridge/report_0123456789abcdef.md").kind == VERSIONED
    assert declared("model.pt").kind == WRITE_ONCE and declared("events.jsonl").kind == APPENDED
    assert declared("test_evaluations/002/evaluation.json").key == "test_evaluation"
    assert record_class("split") is SplitRecord and record_class("predictions") is None
    with pytest.raises(KeyError, match="'model_card.md' is not a declared artefact"):
        declared("model_card.md")


def test_rundir_builds_every_path_from_the_registry(tmp_path):
    """RunDir spells no name of its own: each path it gives is an instance of the artefact of the same key."""
    rd = RunDir(tmp_path)
    src = inspect.getsource(RunDir)
    assert not [t for _, t in literals(src) if any(n in t for n in file_names())]
    args = {"split": "val", "normalized": True, "name": "nm", "number": 3, "ext": "json", "stack_hash": "ab" * 32}
    checked = 0
    for name, member in inspect.getmembers(RunDir):
        if name.startswith("_") or name in {"require", "at", "survival", "root"}:
            continue
        value = getattr(rd, name)
        if callable(value):
            given = {**args, "name": "forest_period"} if name == "assessment_plot" else args
            value = value(**{p: given[p] for p in inspect.signature(value).parameters})
        for p in value if isinstance(value, list) else [value]:
            rel = p.relative_to(tmp_path).as_posix()
            folder = any(fnmatch(rel, a.glob.rsplit("/", k)[0]) for a in ARTEFACTS for k in (1, 2) if "/" in a.glob)
            assert of_path(rel) is not None or folder, name
            checked += 1
    assert checked >= 40
    assert rd.test_evaluation_file(3).relative_to(tmp_path).as_posix() == "test_evaluations/003/evaluation.json"
    assert rd.bridge_report("ab" * 32, "md").name == f"report_{'ab' * 8}.md"
    assert rd.survival("censoring") == tmp_path / "survival" / "censoring.json"
    assert rd.assessment_plot("val", "reliability") == tmp_path / "plots" / "reliability_val.png"
    with pytest.raises(KeyError, match="no assessment plot 'roc'"):
        rd.assessment_plot("val", "roc")


def test_readme_run_directory_table_is_the_generated_one():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- artefacts table: generated by python -m medtorch.artefacts --readme -->\n(.*?)"
                  r"<!-- end of artefacts table -->", text, re.S)
    assert m, "README.md lost the markers around its run-directory table"
    assert m[1] == readme_table(), "README's run-directory table differs: paste `python -m medtorch.artefacts --readme`"


def test_the_report_looks_only_for_artefacts_something_writes():
    from medtorch.report.sections import SECTIONS
    from medtorch.report.traceability import EXPECTATIONS

    patterns = [(s.key, p) for s in SECTIONS for p in s.evidence]
    patterns += [(e.name, loc.pattern) for e in EXPECTATIONS for loc in e.locators]
    orphans = [(where, p) for where, p in patterns if produces(p) is None]
    assert not orphans, f"the report looks for files no step writes: {orphans}"
    for never in ("model_card.md", "eda/*.md", "eda/*.png", "leakage.md", "cv_summary.json",  # what it looked for before
                  "plots/cv_distribution.png"):
        assert produces(never) is None, never
    assert produces("../cv_summary.json").key == "cv_summary"
    assert evidence("metrics", "val.mcc") == "metrics.json#val.mcc"


def test_required_sets_name_the_core_artefacts():
    cls = {a.key for a in required("classification")}
    surv = {a.key for a in required("survival")}
    assert {"manifest", "model_weights", "model_spec", "metrics", "split", "events", "report_html"} <= cls & surv
    assert "confusion_plot" in cls - surv and "survival_censoring" in surv - cls


@pytest.mark.parametrize("cls", [SplitRecord, ModelSpec, MetricsRecord])
def test_records_refuse_unknown_and_missing_keys_naming_them_and_the_file(cls):
    fields = {f: None for f in cls.__dataclass_fields__}
    ok = cls.from_dict(fields, "run/x.json")
    assert isinstance(ok, cls)
    with pytest.raises(IntegrityError, match=r"run/x\.json.*unknown key\(s\) \['surprise'\]"):
        cls.from_dict({**fields, "surprise": 1}, "run/x.json")
    first = next(iter(cls.__dataclass_fields__))
    with pytest.raises(IntegrityError, match=rf"run/x\.json.*missing key\(s\) \['{first}'\]"):
        cls.from_dict({k: v for k, v in fields.items() if k != first}, "run/x.json")
    with pytest.raises(IntegrityError, match="expected a JSON object"):
        cls.from_dict([1], "run/x.json")


def test_report_package_has_no_import_cycle_through_foundation_and_sections():
    """foundation.py and sections.py no longer import each other, at module level or inside functions."""
    def imports(mod: str) -> set[str]:
        tree = ast.parse((REPO / (mod.replace(".", "/") + ".py")).read_text())
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        return {m for m in out if (REPO / (m.replace(".", "/") + ".py")).is_file()}

    assert "medtorch.report.sections" not in imports("medtorch.report.foundation")
    # and no path back to sections from any module foundation imports
    seen, todo = set(), [m for m in imports("medtorch.report.foundation")]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        assert m != "medtorch.report.sections", "foundation reaches sections again"
        todo.extend(imports(m))


@pytest.mark.slow
def test_a_default_run_holds_exactly_the_declared_artefacts(default_run):
    files = [p.relative_to(default_run).as_posix() for p in default_run.rglob("*") if p.is_file()]
    assert not [f for f in files if of_path(f) is None], "files in the run that the registry does not declare"
    missing = [a.path for a in required("classification") if not any(a.regex.match(f) for f in files)]
    assert not missing, f"declared as written by every classification run, but absent: {missing}"
    rd = RunDir(default_run)
    assert read_record(SplitRecord, rd.split).test_sealed is True
    assert read_record(ModelSpec, rd.model_spec).classes == ["malignant", "benign"]
    assert read_record(MetricsRecord, rd.metrics).test is None
    for rel in read_json(rd.manifest)["artefacts"]:
        assert of_path(rel) is not None, rel


def test_handover_and_integrity_take_their_file_sets_from_the_registry():
    """Write-once after hand-over is the registry's write-once kind (and the final last.ckpt); the files the
    audit never hashes are the event log, its head and the registry's locks."""
    from medtorch.handover import write_once
    from medtorch.integrity import _SELF, OUTSIDE_EVIDENCE

    for rel in ("model.pt", "model.json", "split.json", "config.yaml", "data_spec.json", "checkpoints/best.ckpt",
                "checkpoints/last.ckpt", "checkpoints/epoch3.ckpt", "metrics.json", ".hydra/overrides.yaml"):
        assert write_once(rel), rel
    for rel in ("report.html", "manifest.json", "events.jsonl", "bridge/report_0123456789abcdef.md", "test_roles.json",
                "test_evaluations/001/evaluation.json", "not/declared.txt"):
        assert not write_once(rel), rel
    assert _SELF == {a.path for a in ARTEFACTS if a.kind == "lock" and a.scope == RUN} | {"events.jsonl", "events.head"}
    assert OUTSIDE_EVIDENCE == (artefact("job_log").path, "logs/*")


def test_file_part_keeps_a_column_name_inside_its_folder_and_apart_from_others():
    from medtorch.artefacts import file_part

    assert file_part("sex") == "sex" and file_part("age_band-2") == "age_band-2"
    names = ["..", ".", "a/b", "a_b", "a b", "x" * 300, "période", "", "period"]
    parts = [file_part(n, reserved=frozenset({"period"})) for n in names]
    assert len(set(parts)) == len(parts), parts  # a_b stays a_b; a/b and a b each get their own hash
    assert all(set(p) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") and 0 < len(p) <= 69
               for p in parts), parts
