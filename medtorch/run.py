"""The run directory: where every artefact of a training run lives, written atomically.

A run directory is the spine of medtorch: every later act on the model (evaluation, bridge,
prediction, monitoring, report) reads from and appends to it. ``RunDir`` names its files so
that no module builds paths by hand, and every write goes to a temporary file that is
renamed into place, so a crash never leaves a half-written artefact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medtorch.atomic import (VERSIONS, _jsonable, atomic_path, keep_previous_version, read_json,  # noqa: F401 (re-exported)
                             write_bytes, write_json, write_text)
from medtorch.errors import MedtorchError


def discard_unstarted(root: str | Path) -> bool:
    """Remove a run directory that holds nothing but Hydra's job log (``train.log``): a launch
    refused before the run started (a config error) leaves nothing behind. Returns whether it did.
    A directory holding anything else (a manifest, the user's files) is left as it is."""
    import logging

    root = Path(root)
    if not root.is_dir() or any(p.name != "train.log" for p in root.iterdir()):
        return False
    for handler in logging.root.handlers[:]:  # Hydra's file handler still holds train.log open
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == root.resolve():
            handler.close()
            logging.root.removeHandler(handler)
    (root / "train.log").unlink(missing_ok=True)
    root.rmdir()
    # and the folders Hydra made for it (runs/<experiment>/), when the refusal left them empty
    cwd, parent = Path.cwd().resolve(), root.resolve().parent
    while parent != cwd and cwd in parent.parents and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return True


@dataclass(frozen=True)
class RunDir:
    """Names of the files inside one run directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # configuration and provenance
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def events_head(self) -> Path:
        """Line count and last hash of the event log (see medtorch.audit)."""
        return self.root / "events.head"

    @property
    def hydra_files(self) -> list[Path]:
        """Hydra's own record of the composition (config, hydra settings, overrides)."""
        return sorted((self.root / ".hydra").glob("*.yaml"))

    # data
    @property
    def split(self) -> Path:
        return self.root / "split.json"

    @property
    def preprocessing(self) -> Path:
        return self.root / "preprocessing.json"

    @property
    def lineage(self) -> Path:
        return self.root / "lineage.json"

    @property
    def lineage_summary(self) -> Path:
        return self.root / "lineage.md"

    @property
    def leakage(self) -> Path:
        return self.root / "leakage.json"

    @property
    def eda(self) -> Path:
        return self.root / "eda.json"

    @property
    def eda_summary(self) -> Path:
        return self.root / "eda.md"

    def eda_plot(self, name: str) -> Path:
        return self.root / "plots" / f"eda_{name}.png"

    @property
    def data_spec(self) -> Path:
        """The data specification every later input is checked against (human-readable JSON)."""
        return self.root / "data_spec.json"

    @property
    def monitoring_reference(self) -> Path:
        """Training-split distributions that monitoring compares new data with."""
        return self.root / "monitoring_reference.json"

    @property
    def monitoring(self) -> Path:
        """One folder per monitoring report (JSON, Markdown, plots)."""
        return self.root / "monitoring"

    @property
    def monitoring_log(self) -> Path:
        """One JSON line per monitoring run: when, what input, what it found."""
        return self.root / "monitoring" / "log.jsonl"

    # model
    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def checkpoint_files(self) -> list[Path]:
        return sorted(self.checkpoints.glob("*.ckpt"))

    @property
    def training_log(self) -> Path:
        """Lightning's CSV log of the epoch metrics."""
        return self.root / "logs" / "metrics.csv"

    @property
    def model_weights(self) -> Path:
        return self.root / "model.pt"

    @property
    def model_spec(self) -> Path:
        return self.root / "model.json"

    # evaluation
    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    def predictions(self, split: str) -> Path:
        return self.root / f"predictions_{split}.csv"

    def confusion_plot(self, split: str, normalized: bool) -> Path:
        kind = "normalized" if normalized else "counts"
        return self.root / "plots" / f"confusion_{split}_{kind}.png"

    # performance assessment (medtorch/evaluation)
    @property
    def acceptance(self) -> Path:
        return self.root / "acceptance.json"

    @property
    def sealed_test(self) -> Path:
        return self.root / "sealed_test.json"

    def assessment(self, split: str) -> Path:
        return self.root / f"assessment_{split}.json"

    def test_evaluation(self, number: int) -> Path:
        return self.root / "test_evaluations" / f"{number:03d}"

    def assessment_plot(self, split: str, name: str) -> Path:
        return self.root / "plots" / f"{name}_{split}.png"


    # bridge re-evaluation across stacks (medtorch.stack)
    @property
    def bridge_reference(self) -> Path:
        return self.root / "bridge" / "reference.json"

    @property
    def bridge_rows(self) -> Path:
        return self.root / "bridge" / "reference_rows.parquet"

    def bridge_added(self, name: str, ext: str) -> Path:
        """Rows added to the bridge set after training (ext: json | parquet)."""
        return self.root / "bridge" / f"reference_{name}.{ext}"

    def bridge_report(self, stack_hash: str, ext: str) -> Path:
        """The bridge report for one stack, named by its fingerprint hash (ext: json | md)."""
        return self.root / "bridge" / f"report_{stack_hash[:16]}.{ext}"

    # explanations (medtorch/explain)
    @property
    def explain_dir(self) -> Path:
        """The explanation written at the end of training (recorded in the manifest)."""
        return self.root / "explain"

    @property
    def explanation(self) -> Path:
        return self.explain_dir / "explanation.json"

    def later_explanation_dir(self, name: str) -> Path:
        """An explanation made later by ``medtorch explain``; each gets its own directory."""
        return self.root / "explanations" / name

    # report (medtorch.report)
    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    def require(self) -> "RunDir":
        """Fail clearly unless this looks like a finished medtorch run."""
        if not self.root.is_dir():
            raise MedtorchError(f"{self.root}: no such run directory.")
        if not self.manifest.is_file():
            raise MedtorchError(f"{self.root}: no manifest.json; this is not a medtorch run directory.")
        status = read_json(self.manifest).get("status")
        if status != "complete":
            raise MedtorchError(
                f"{self.root}: the run's status is '{status}', not 'complete'; "
                "it failed or is still running, so its artefacts cannot be trusted."
            )
        return self
