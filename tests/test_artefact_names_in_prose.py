"""Artefact file names are spelt only in the registry (medtorch/artefacts.py), the README and the tests.

test_artefacts.py already keeps them out of the string literals of medtorch's code. This file reads the whole
text of every other tracked file (comments, docstrings, scripts, YAML, TOML, shell), so prose names an artefact
by its role ("the manifest", "the split record") or by its registry key (``artefact("manifest")``), and a
renamed artefact cannot leave a stale name behind. It also keeps the run directory's declared folders
(``plots``, ``test_evaluations``, ``.hydra``...) out of path literals: code takes them from RunDir / the registry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artefact_literals import declared_folders, folder_literals, names_in_text
from conftest import REPO

# The registry itself, and the README, whose run-directory table is printed from it.
OWNERS = {"medtorch/artefacts.py", "README.md"}
# Tracked files outside tests/ that may still spell an artefact's file name, each with its reason (for
# example a tool's own file that a config must name for the tool to work). Empty: every config, script
# and module names artefacts by role or registry key. A stale entry fails below.
ALLOWED: dict[str, str] = {}


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:  # an unpacked sdist: nothing to list
        pytest.skip(f"not a git checkout ({e}); the tracked files cannot be listed")
    return [p for p in out.decode().split("\0") if p]


def _text(rel: str) -> str | None:
    data = (REPO / rel).read_bytes() if (REPO / rel).is_file() else b""
    if b"\0" in data:
        return None  # binary
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def scanned(files: list[str]) -> list[str]:
    return [f for f in files if not f.startswith("tests/") and f not in OWNERS and f not in ALLOWED]


def artefact_names_outside_the_registry(files: list[str]) -> list[str]:
    """``file:line: text (spells NAME)`` for each line of the scanned files that spells an artefact file name."""
    found: dict[tuple[str, int], tuple[str, list[str]]] = {}
    for rel in scanned(files):
        for line, name, content in names_in_text(_text(rel) or ""):
            found.setdefault((rel, line), (content, []))[1].append(name)
    return [f"{rel}:{line}: {content[:100]} (spells {', '.join(names)})" for (rel, line), (content, names) in found.items()]


def test_no_tracked_file_spells_an_artefact_file_name_outside_the_registry_readme_and_tests():
    files = _tracked()
    assert "medtorch/run.py" in files and "pyproject.toml" in files  # the listing is the repository's
    found = artefact_names_outside_the_registry(files)
    assert not found, (f"{len(found)} line(s) spell an artefact file name outside medtorch/artefacts.py, README.md "
                       "and tests/; name the artefact by its role or registry key (artefact(\"manifest\")), and take "
                       "paths from RunDir / medtorch.artefacts:\n" + "\n".join(found))
    stale = [f for f in ALLOWED if f not in files or not names_in_text(_text(f) or "")]
    assert not stale, f"allow-listed files that no longer spell an artefact file name; remove them from ALLOWED: {stale}"


def test_the_prose_checker_reads_comments_docstrings_and_config_files(tmp_path):
    (tmp_path / "m.py").write_text('"""Writes metrics.json."""\n'
                                   "x = 1  # then the predictions_val.csv of the split\n"
                                   "def f():\n"
                                   '    """Reads ``bridge/report_0123abcd.md`` and report.html."""\n'
                                   "# compares predictions_<split>.csv\n")
    (tmp_path / "c.yaml").write_text("# resumes from checkpoints/last.ckpt\nname: logs\n")
    hits = {(line, name) for line, name, _ in names_in_text((tmp_path / "m.py").read_text())}
    assert hits == {(1, "metrics.json"), (2, "predictions_{split}.csv"), (4, "report_{stack}.{ext}"),
                    (4, "report.{ext}"), (4, "report.html"),
                    (5, "predictions_{split}.csv")}
    assert [(n, name) for n, name, _ in names_in_text((tmp_path / "c.yaml").read_text())] == [(1, "last.ckpt")]


def test_the_prose_checker_does_not_flag_unrelated_words():
    text = ("import medtorch.evaluation.metrics  # metrics.py, not the metrics file\n"
            "see medtorch/survival/report.py and medtorch/report/build.py\n"
            "if report.status == 'fail' and report.min_cell > 3: cfg.report.pdf\n"
            "my_metrics.json, split.jsonl, model.pth, config.yml, predictions_csv, lineage.mdx\n"
            "the manifest, the split record, artefact('predictions'), RunDir.bridge_report\n")
    assert names_in_text(text) == []


def test_the_whole_repository_is_read_not_only_python(tmp_path):
    """The listing covers configs, scripts, pyproject.toml and .ci/run, and only tests/, the registry and the
    README are skipped."""
    files = _tracked()
    seen = set(scanned(files))
    for f in ("pyproject.toml", ".ci/run", "medtorch/conf/logger/csv.yaml", "medtorch/run.py", "train.py"):
        assert f in seen, f
    assert any(f.startswith("scripts/") for f in seen)
    assert not [f for f in seen if f.startswith("tests/") or f in OWNERS]


# --- declared folders spelt as path literals --------------------------------------------------------------


def test_no_module_or_script_spells_a_declared_folder_as_a_path_component():
    found = []
    for path in sorted((REPO / "medtorch").rglob("*.py")) + sorted((REPO / "scripts").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel == "medtorch/artefacts.py":
            continue
        found += [f"{rel}:{line}: {text!r} is the declared folder {folder!r}"
                  for line, folder, text in folder_literals(path.read_text(encoding="utf-8"))]
    assert not found, "run-directory folders spelt as path literals (use RunDir / medtorch.artefacts):\n" + \
        "\n".join(found)


def test_the_folder_scanner_catches_the_old_code_and_not_prose():
    old = ('def f(rd, folder, root, name, fig):\n'
           '    with exclusive(rd.root / "test_evaluations"):\n'  # evaluation/governed.py, survival/governed.py
           '        pass\n'
           '    save(fig, folder / "plots" / "psi.png")\n'  # deploy/monitor_report.py
           '    write_text(root / ".hydra" / name, "x")\n'  # lifecycle.py
           '    a = Path(root, "bridge/reference.json")\n'
           '    b = os.path.join(root, "checkpoints")\n'
           '    c = root.joinpath(f"explanations/{name}")\n'
           '    files = {"tables": {}, "plots": {}}\n'  # a dict key, not a path
           '    log("monitoring", "the plots of the survival run")\n'  # words, not paths
           '    return root / name / "plots_of_mine"\n')
    hits = [(line, folder) for line, folder, _ in folder_literals(old)]
    assert hits == [(2, "test_evaluations"), (4, "plots"), (5, ".hydra"), (6, "bridge"), (7, "checkpoints"),
                    (8, "explanations")]
    assert {"plots", "test_evaluations", ".hydra", "bridge", "checkpoints", "logs", "versions"} <= declared_folders()


def test_the_lock_of_the_governed_looks_is_the_declared_one(tmp_path):
    """The governed look locks the folder of the test looks; its lock file is the declared lock artefact."""
    from medtorch.locking import lock_path
    from medtorch.run import RunDir

    rd = RunDir(tmp_path)
    assert lock_path(rd.test_evaluations) == rd.test_evaluations_lock.resolve()
    assert rd.test_evaluation(1).parent == rd.test_evaluations
    assert rd.hydra_dir == tmp_path / ".hydra" and Path(rd.hydra_dir).is_relative_to(tmp_path)


def test_plots_inside_a_report_folder_keep_their_paths():
    """The monitoring and explanation plots now take their folder from the registry: the same paths as before."""
    from medtorch.artefacts import artefact, of_path

    assert artefact("monitoring_plot").tail(2, plot="psi") == "plots/psi.png"
    assert artefact("explanation_plot").tail(2, name="global_importance") == "plots/global_importance.png"
    assert of_path("monitoring/2026-01-01_x/" + artefact("monitoring_plot").tail(2, plot="psi")).key == "monitoring_plot"
    assert of_path("explain/" + artefact("explanation_plot").tail(2, name="g")).key == "explanation_plot"
    with pytest.raises(KeyError):
        artefact("monitoring_plot").tail(2)  # the plot's name must be given
