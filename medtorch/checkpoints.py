"""Checkpoints: the last one written every epoch, each hashed into the event log, each verified before a load.

Lightning (since 2.6) writes ``save_last`` only when a top-k checkpoint is written, so after a
crash the last checkpoint could be many epochs old. medtorch writes it (``artefact("checkpoint_last")``) itself at
the end of every epoch (a second ``ModelCheckpoint`` with no monitor, ordered after the best
one so it holds the updated best and early-stopping state), and every N optimizer steps with
``trainer.checkpoint_every_n_steps``.

Every checkpoint goes through ``RecordedCheckpointIO``: it writes to a temporary file, appends
a ``checkpoint_saved`` event with the file's sha256, epoch and step, and only then renames the
file into place. A kill in between leaves the previous checkpoint in place, whose hash is the
one recorded before; ``verify_checkpoint`` therefore accepts the latest recorded hash or the
one before it, and nothing else. Every load (resume included) verifies the file first and
then reads it with ``torch.load(weights_only=True)``, so a replaced or edited checkpoint is
refused (``IntegrityError``, ``EXIT_INTEGRITY``) before a byte of it is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from medtorch.artefacts import artefact
from medtorch.audit import EventLog
from medtorch.errors import IntegrityError
from medtorch.hashing import sha256_file
from medtorch.run import RunDir

SAVED, REMOVED = "checkpoint_saved", "checkpoint_removed"


def weights_bytes(network: torch.nn.Module) -> bytes:
    """A network's state dict as ``torch.save`` writes it (the model weights), to be recorded through the Run."""
    import io

    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return buffer.getvalue()


def _name(rd: RunDir, path: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(rd.root.resolve()).as_posix()
    except ValueError:
        return None


def recorded_versions(rd: RunDir, name: str) -> list[tuple[str, dict[str, Any], int]]:
    """Every (sha256, details, log line) the run recorded for checkpoint ``name``, oldest first."""
    versions: list[tuple[str, dict[str, Any], int]] = []
    for n, rec in enumerate(EventLog(rd.events).records(), start=1):
        if rec.get("action") == SAVED and name in rec.get("outputs", {}):
            versions.append((rec["outputs"][name], rec.get("details", {}), n))
        elif rec.get("action") == REMOVED and name in rec.get("details", {}).get("removed", []):
            versions.clear()
    return versions


def verify_checkpoint(path: str | Path, rd: RunDir | None = None) -> dict[str, Any]:
    """Refuse a checkpoint unless the run's intact event log recorded exactly this file; return its details."""
    path = Path(path)
    rd = rd or RunDir(path.resolve().parent.parent)  # RUN/checkpoints/NAME.ckpt
    name = _name(rd, path)
    if name is None or not rd.events.is_file():
        raise IntegrityError(f"{path}: not a checkpoint recorded by a medtorch run (no event log at {rd.events}); "
                             "only a run's own recorded checkpoints are loaded. Resume from the run's "
                             f"{artefact('checkpoint_last').relative()}.")
    EventLog(rd.events).verify_head()  # a log that was edited cannot vouch for anything
    versions = recorded_versions(rd, name)
    if not versions:
        raise IntegrityError(f"{path}: the run's event log never recorded this checkpoint, so it cannot be verified "
                             "and is not loaded. Resume from a checkpoint the run wrote "
                             f"({artefact('checkpoint_last').relative()}).")
    actual = sha256_file(path)
    # the latest record, or the one before it (a kill between recording a new file and renaming it into place)
    for digest, details, line in versions[-2:][::-1]:
        if digest == actual:
            return {**details, "sha256": digest, "line": line}
    digest, _, line = versions[-1]
    raise IntegrityError(f"{path}: checkpoint changed after it was written (sha256 {actual[:16]}... on disk, "
                         f"{digest[:16]}... recorded at {rd.events.name} line {line}); it is not loaded. Restore it from "
                         "the run's archive, or start a new run.")


def load_verified(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load`` of a verified checkpoint, with ``weights_only=True``."""
    verify_checkpoint(path)
    return torch.load(path, map_location=map_location, weights_only=True)


def checkpoint_io(log: EventLog, root: Path):
    """A Lightning CheckpointIO plugin that writes atomically, records every write and removal, and
    verifies before every load (``weights_only=True``)."""
    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

    class RecordedCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            torch.save(checkpoint, tmp)
            name = _name(RunDir(root), path) or str(path)
            log.append(SAVED, {"epoch": int(checkpoint.get("epoch", -1)), "global_step": int(checkpoint.get("global_step", -1))},
                       outputs={name: sha256_file(tmp)})
            os.replace(tmp, path)

        def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict[str, Any]:
            return load_verified(path, map_location=map_location or "cpu")

        def remove_checkpoint(self, path) -> None:
            super().remove_checkpoint(path)
            log.append(REMOVED, {"removed": [_name(RunDir(root), Path(path)) or str(path)]})

    return RecordedCheckpointIO()


def checkpoint_callbacks(cfg, rd: RunDir) -> list:
    """The best-epoch checkpoint, the last checkpoint every epoch, and (optionally) every N steps."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    es = cfg.early_stopping
    callbacks: list = [
        ModelCheckpoint(dirpath=rd.checkpoints, filename="best", monitor=es.monitor, mode=es.mode,
                        save_top_k=1, save_last=False, auto_insert_metric_name=False),
        # no monitor: the latest epoch, every epoch; after the best one, so it holds the best's updated state
        ModelCheckpoint(dirpath=rd.checkpoints, filename="last", monitor=None, save_top_k=1,
                        auto_insert_metric_name=False, enable_version_counter=False),
    ]
    every = cfg.trainer.get("checkpoint_every_n_steps")
    if every:
        last = rd.checkpoint_last

        class EveryNSteps(pl.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
                if trainer.global_step % every == 0:
                    trainer.save_checkpoint(last)

        callbacks.append(EveryNSteps())
    return callbacks
