"""Opening and closing a training run's ``Run``: a fresh start, a resume, the end.

``start`` refuses a directory that holds another run's evidence, records the launch and the
composed config, and writes the first manifest (format 2). ``resume`` continues an interrupted
run in its own directory (medtorch.resume) and keeps, in the run state, the hashes of the split
and preprocessing it recorded, which the re-derived ones must match. ``finish`` records the
status and the artefact hashes in the manifest, and the manifest's own hash in the event log.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from medtorch.version import __version__
from medtorch.audit import utc_now
from medtorch.config import to_container
from medtorch.evidence import Run
from medtorch.hashing import sha256_json
from medtorch.manifest import Manifest
from medtorch.provenance import device_info, git_info, package_versions
from medtorch.resume import check_fresh_start, check_same_run
from medtorch.run import RunDir, write_text
from medtorch.steps import State


def config_for_hash(cfg: DictConfig) -> dict[str, Any]:
    config = to_container(cfg)
    config.pop("ckpt_path", None)  # how a run is resumed is not part of what it is
    return config


def record_launch(root: Path, launch: dict[str, str] | None) -> None:
    for name, text in (launch or {}).items():
        write_text(RunDir(root).hydra_dir / name, text)


def _command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def start(cfg: DictConfig, root: str | Path, launch: dict[str, str] | None = None, task: str | None = None) -> tuple[Run, State]:
    from medtorch.stack import fingerprint

    rd = RunDir(root)
    check_fresh_start(rd)
    rd.root.mkdir(parents=True, exist_ok=True)
    record_launch(rd.root, launch)  # a resumed run keeps its first launch's record
    manifest = Manifest(
        run_id=uuid.uuid4().hex, medtorch_version=__version__, experiment=cfg.experiment, command=_command(),
        started_utc=utc_now(), git=git_info(), config_sha256=sha256_json(config_for_hash(cfg)), seed=cfg.seed,
        packages=package_versions(), device=device_info(cfg.trainer.accelerator),
        stack=fingerprint.collect(trainer_precision=str(cfg.trainer.precision)),  # replaced once settings apply
        task=task)
    run = Run(rd, manifest)
    run.record(rd.config, OmegaConf.to_yaml(cfg, resolve=True))
    run.save_manifest()
    run.event("run_started", {"run_id": manifest.run_id, "experiment": cfg.experiment}, outputs=[rd.config])
    return run, State()


def resume(cfg: DictConfig, root: str | Path, checkpoint: Path) -> tuple[Run, State]:
    """Continue an interrupted run in its own directory (see medtorch.resume)."""
    rd = RunDir(root)
    manifest = Manifest.from_dict(check_same_run(rd, sha256_json(config_for_hash(cfg))), str(rd.manifest))
    run = Run(rd, manifest)
    inside = checkpoint.is_relative_to(rd.root)
    manifest.status = "running"
    manifest.resumed.append({"time_utc": utc_now(), "from": str(checkpoint.relative_to(rd.root)) if inside else str(checkpoint),
                             "git": git_info(), "packages": package_versions(), "command": _command()})
    state = State(resume_from=checkpoint, evidence_before_resume=run.hashes([rd.split, rd.preprocessing], optional=True))
    run.save_manifest()
    run.event("run_resumed", {"run_id": manifest.run_id, "checkpoint": manifest.resumed[-1]["from"]},
              inputs=[checkpoint] if inside else {})
    return run, state


def artefacts(rd: RunDir) -> tuple[list[Path], list[Path]]:
    """(every complete run has these, written when their step is enabled)."""
    required = [rd.config, rd.split, rd.preprocessing, rd.model_weights, rd.model_spec, rd.metrics, rd.predictions("val"),
                rd.acceptance, rd.sealed_test, rd.assessment("val"), rd.lineage, rd.lineage_summary,
                rd.bridge_reference, rd.bridge_rows, rd.data_spec, rd.monitoring_reference]
    # leakage and EDA can be switched off, explanations too (and a smoke run skips them); Lightning writes no
    # checkpoint in a smoke run and the logistic baseline has no training log
    optional = [rd.leakage, rd.eda, rd.eda_summary, rd.explanation, *rd.checkpoint_files, rd.training_log, *rd.hydra_files]
    return required, optional


def finish(run: Run, status: str, error: str | None = None) -> None:
    required, optional = artefacts(run.rd)
    run.finish(status, error, required=required, optional=optional)
