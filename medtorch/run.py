"""The run directory: where every artefact of a training run lives, written atomically.

A run directory is the spine of medtorch: every later act on the model (evaluation, bridge,
prediction, monitoring, report) reads from and appends to it. ``RunDir`` names its files so
that no module builds paths by hand, and every write goes to a temporary file that is
renamed into place, so a crash never leaves a half-written artefact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medtorch.atomic import (VERSIONS, _jsonable, atomic_path, keep_previous_version, original_path, read_json,  # noqa: F401 (re-exported)
                             write_bytes, write_json, write_text)
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.artefacts import artefact


def discard_unstarted(root: str | Path) -> bool:
    """Remove a run directory that holds nothing but Hydra's job log (``artefact("job_log")``): a launch
    refused before the run started (a config error) leaves nothing behind. Returns whether it did.
    A directory holding anything else (a manifest, the user's files) is left as it is."""
    import logging

    root, job_log = Path(root), artefact("job_log")
    if not root.is_dir() or any(p.name != job_log.name for p in root.iterdir()):
        return False
    for handler in logging.root.handlers[:]:  # Hydra's file handler still holds the job log open
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == root.resolve():
            handler.close()
            logging.root.removeHandler(handler)
    job_log.path_in(root).unlink(missing_ok=True)
    root.rmdir()
    # and the folders Hydra made for it (runs/<experiment>/), when the refusal left them empty
    cwd, parent = Path.cwd().resolve(), root.resolve().parent
    while parent != cwd and cwd in parent.parents and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return True


def not_a_directory(path: Path) -> str:
    """Why ``path`` cannot be a run directory: it is a file, or nothing is there."""
    if path.exists():
        return (f"{path}: is a file, not a run directory; give the run's folder (the one holding its manifest "
                "and event log).")
    return f"{path}: no such run directory."


@dataclass(frozen=True)
class RunDir:
    """Paths of the files inside one run directory, each from its declaration in ``medtorch.artefacts``."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def at(self, key: str, **values: object) -> Path:
        """The path of the artefact declared under ``key``, placeholders filled from ``values``."""
        return artefact(key).path_in(self.root, **values)

    # configuration and provenance
    @property
    def config(self) -> Path:
        return self.at("config")

    @property
    def manifest(self) -> Path:
        return self.at("manifest")

    @property
    def events(self) -> Path:
        return self.at("events")

    @property
    def events_head(self) -> Path:
        """Line count and last hash of the event log (see medtorch.audit)."""
        return self.at("events_head")

    @property
    def events_lock(self) -> Path:
        return self.at("events_lock")

    @property
    def test_evaluations_lock(self) -> Path:
        return self.at("test_evaluations_lock")

    @property
    def hydra_files(self) -> list[Path]:
        """Hydra's own record of the composition (config, hydra settings, overrides)."""
        return sorted(self.root.glob(artefact("hydra_file").glob))

    @property
    def hydra_dir(self) -> Path:
        """The folder of Hydra's own record of the composition."""
        return self.at("hydra_file", name="x").parent

    @property
    def not_evidence(self) -> Path:
        return self.at("not_evidence")

    # data
    @property
    def split(self) -> Path:
        return self.at("split")

    @property
    def preprocessing(self) -> Path:
        return self.at("preprocessing")

    @property
    def lineage(self) -> Path:
        return self.at("lineage")

    @property
    def lineage_summary(self) -> Path:
        return self.at("lineage_summary")

    @property
    def leakage(self) -> Path:
        return self.at("leakage")

    @property
    def eda(self) -> Path:
        return self.at("eda")

    @property
    def eda_summary(self) -> Path:
        return self.at("eda_summary")

    def eda_plot(self, name: str) -> Path:
        return self.at("eda_plot", name=name)

    @property
    def data_spec(self) -> Path:
        """The data specification every later input is checked against (human-readable JSON)."""
        return self.at("data_spec")

    @property
    def monitoring_reference(self) -> Path:
        """Training-split distributions that monitoring compares new data with."""
        return self.at("monitoring_reference")

    @property
    def monitoring(self) -> Path:
        """One folder per monitoring report (JSON, Markdown, plots)."""
        return self.monitoring_log.parent

    @property
    def monitoring_log(self) -> Path:
        """One JSON line per monitoring run: when, what input, what it found."""
        return self.at("monitoring_log")

    # model
    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_best.parent

    @property
    def checkpoint_best(self) -> Path:
        return self.at("checkpoint_best")

    @property
    def checkpoint_last(self) -> Path:
        return self.at("checkpoint_last")

    @property
    def checkpoint_files(self) -> list[Path]:
        return sorted(self.root.glob(artefact("checkpoint").glob))

    @property
    def training_log(self) -> Path:
        """Lightning's CSV log of the epoch metrics."""
        return self.at("training_log")

    @property
    def model_weights(self) -> Path:
        return self.at("model_weights")

    @property
    def model_spec(self) -> Path:
        return self.at("model_spec")

    # evaluation
    @property
    def metrics(self) -> Path:
        return self.at("metrics")

    def predictions(self, split: str) -> Path:
        return self.at("predictions", split=split)

    def confusion_plot(self, split: str, normalized: bool) -> Path:
        return self.at("confusion_plot", split=split, kind="normalized" if normalized else "counts")

    @property
    def training_history_plot(self) -> Path:
        return self.at("training_history_plot")

    # performance assessment (medtorch/evaluation)
    @property
    def acceptance(self) -> Path:
        return self.at("acceptance")

    @property
    def sealed_test(self) -> Path:
        return self.at("sealed_test")

    def assessment(self, split: str) -> Path:
        return self.at("assessment", split=split)

    def test_evaluation(self, number: int) -> Path:
        """The folder of governed test look ``number``."""
        return self.test_evaluation_file(number).parent

    @property
    def test_evaluations(self) -> Path:
        """The folder of every governed test look (locked while a look is recorded)."""
        return self.test_evaluation(0).parent

    def test_evaluation_file(self, number: int) -> Path:
        return self.at("test_evaluation", n=number)

    def test_evaluation_predictions(self, number: int) -> Path:
        return self.at("test_evaluation_predictions", n=number)

    @property
    def test_evaluation_files(self) -> list[Path]:
        """Every governed look's evaluation record, in look order."""
        return sorted(self.root.glob(artefact("test_evaluation").glob))

    @property
    def test_roles(self) -> Path:
        return self.at("test_roles")

    def assessment_plot(self, split: str, name: str) -> Path:
        """A plot of the performance assessment: ``reliability`` or ``forest_<column>`` / ``forest_period``."""
        if name == "reliability":
            return self.at("reliability_plot", split=split)
        if name.startswith("forest_"):
            return self.at("forest_plot", split=split, name=name.removeprefix("forest_"))
        raise KeyError(f"no assessment plot '{name}' is declared in medtorch.artefacts (reliability, forest_<name>)")

    # bridge re-evaluation across stacks (medtorch.stack)
    @property
    def bridge_reference(self) -> Path:
        return self.at("bridge_reference")

    @property
    def bridge_rows(self) -> Path:
        return self.at("bridge_rows")

    def bridge_added(self, name: str, ext: str) -> Path:
        """Rows added to the bridge set after training (ext: json | parquet)."""
        return self.at("bridge_added", name=name, ext=ext)

    def bridge_report(self, stack_hash: str, ext: str) -> Path:
        """The bridge report for one stack, named by its fingerprint hash (ext: json | md)."""
        return self.at("bridge_report", stack=stack_hash[:16], ext=ext)

    # explanations (medtorch/explain)
    @property
    def explain_dir(self) -> Path:
        """The explanation written at the end of training (recorded in the manifest)."""
        return self.explanation.parent

    @property
    def explanation(self) -> Path:
        return self.at("explanation")

    def later_explanation_dir(self, name: str) -> Path:
        """An explanation made later by ``medtorch explain``; each gets its own directory."""
        return self.at("later_explanation", name=name, file="x").parent

    def new_explanation_dir(self, name: str) -> Path:
        """The directory of a new later explanation named ``name`` (``--name``): a plain folder name, not yet used."""
        if "/" in name or name in ("", ".", ".."):
            raise MedtorchError(f"--name {name!r} must be a plain folder name (no '/'); the explanation is written to "
                                f"{self.later_explanation_dir('NAME')}.")
        out = self.later_explanation_dir(name)
        if out.exists():
            raise MedtorchError(f"--name {name!r}: {out} exists (an earlier explanation); choose another name.")
        return out

    # report (medtorch.report)
    @property
    def report_html(self) -> Path:
        return self.at("report_html")

    @property
    def report_md(self) -> Path:
        return self.at("report_md")

    @property
    def report_pdf(self) -> Path:
        return self.at("report_pdf")

    @property
    def report_appendix(self) -> Path:
        return self.at("report_appendix")

    # task=survival
    @property
    def survival_dir(self) -> Path:
        return self.at("survival_eda").parent

    def survival(self, key: str) -> Path:
        """A survival artefact by its key without the ``survival_`` prefix: ``rd.survival("censoring")``."""
        return self.at(f"survival_{key}")

    def require(self) -> "RunDir":
        """Fail clearly unless this looks like a finished medtorch run."""
        if not self.root.is_dir():
            raise MedtorchError(not_a_directory(self.root))
        if not self.manifest.is_file():
            if self._run_started():  # a run's log without its manifest: removed, not a directory of something else
                raise IntegrityError(f"{self.manifest}: missing, though the run's event log ({self.events.name}) is there; "
                                     "restore the run from its archive.")
            raise MedtorchError(f"{self.root}: no {self.manifest.name}; this is not a medtorch run directory.")
        status = read_json(self.manifest).get("status")
        if status != "complete":
            self._refuse_an_edited_manifest()
            raise MedtorchError(
                f"{self.root}: the run's status is '{status}', not 'complete'; "
                "it failed or is still running, so its artefacts cannot be trusted."
            )
        return self

    def _run_started(self) -> bool:
        """The directory's event log is a run's (a cross-validation root keeps a log of the same name, without one)."""
        from medtorch.audit import EventLog

        return self.events.is_file() and any(isinstance(r, dict) and r.get("action") == "run_started"
                                             for r in EventLog(self.events).records())

    def _refuse_an_edited_manifest(self) -> None:
        """A run whose log's last run event is its end (complete, failed, interrupted) recorded its manifest there:
        one that differs was edited after it, and its status is no verdict on the run (IntegrityError). A run whose
        last run event is its start or a resume has not recorded its manifest yet."""
        from medtorch.hashing import sha256_file

        last = last_run_event(self)
        if last is None or last.get("action") in ("run_started", "run_resumed"):
            return
        recorded = (last.get("outputs") or {}).get(self.manifest.name)
        if recorded is not None and (actual := sha256_file(self.manifest)) != recorded:
            raise IntegrityError(f"{self.manifest}: changed after the run recorded it (sha256 {actual[:16]}... on disk, "
                                 f"{recorded[:16]}... recorded by its {last.get('action')} event); restore the original "
                                 "from the run's archive.")


def last_run_event(rd: RunDir) -> dict | None:
    """The log's last run event (``run_started``, ``run_resumed`` or the run's end), or None. A function, not a
    member: every public member of RunDir is a path of the artefact registry (tests/test_artefacts.py)."""
    from medtorch.audit import EventLog

    if not rd.events.is_file():
        return None
    return next((r for r in reversed(EventLog(rd.events).records())
                 if isinstance(r, dict) and str(r.get("action", "")).startswith("run_")), None)
