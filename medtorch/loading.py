"""Load a finished run for any later act on it (evaluate, predict, bridge, explain, monitor).

``load_run`` only reads: it checks that the run completed, that the weights and the
preprocessing state are the ones the run recorded (a changed file is refused), that the event
log's hash chain is intact, and rebuilds the preprocessing and the network without importing
Lightning. It has no side effects. Using the model on a stack is a separate, explicit call
(``medtorch.stack.gate.require_bridged_stack``): it puts the run's numeric settings and the
inference settings in force, takes the stack fingerprint, and runs the automatic bridge when
this stack has no passed bridge on record.

This module imports nothing from ``medtorch.stack``: the gate, the bridge and the bridge
reference import it, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from torch import nn

from medtorch.data.transforms import TabularPreprocessor
from medtorch.errors import IntegrityError
from medtorch.hashing import sha256_file
from medtorch.integrity import require_intact
from medtorch.models.inference import eval_batch_size, load_network
from medtorch.run import RunDir, read_json


@dataclass
class LoadedRun:
    rd: RunDir
    manifest: dict[str, Any]
    config: dict[str, Any]
    spec: dict[str, Any]  # the model spec
    preprocessor: TabularPreprocessor
    network: nn.Module
    settings: Any = None  # medtorch.stack.settings.InferenceSettings in force (None until put on a stack)
    stack: Optional[dict[str, Any]] = None  # fingerprint of the stack the model runs on
    bridge: Optional[dict[str, Any]] = None  # how this stack was cleared: reference_stack | passed_on_record | ...

    @property
    def classes(self) -> list[str]:
        return list(self.spec["classes"])

    @property
    def eval_batch_size(self) -> int:
        """``trainer.eval_batch_size`` recorded with the run: the batch size of all its inference."""
        return eval_batch_size(self.config)


def verify_artefact(rd: RunDir, path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a file whose hash differs from the one in the manifest."""
    name = str(path.relative_to(rd.root))
    expected = manifest.get("artefacts", {}).get(name)
    if expected is None:
        raise IntegrityError(f"{path}: the run's manifest records no hash for {name}; it cannot be trusted.")
    if not path.is_file():
        raise IntegrityError(f"{path}: missing; the run recorded it with sha256 {expected[:16]}...")
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(
            f"{path} was changed after the run wrote it (sha256 {actual[:16]}... but the run recorded "
            f"{expected[:16]}...). Restore the original file; a changed model or preprocessing state is refused."
        )


def _read_config(path: Path) -> dict[str, Any]:
    """The run's config as a dict: the C YAML parser (15x faster than OmegaConf's), OmegaConf where it interpolates."""
    import yaml

    text = path.read_text(encoding="utf-8")
    if "${" in text:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.create(text), resolve=True)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load a finished run and verify it: nothing is changed, recorded or put in force.

    The weights, model spec, preprocessing state and config must hash to what the manifest
    recorded, and the event log's chain must be intact. To use the model on this stack, ask
    for it explicitly: ``medtorch.stack.gate.require_bridged_stack`` (predict, evaluate,
    explain, monitor) or ``medtorch.stack.gate.put_on_stack`` (the bridge itself).
    """
    rd = RunDir(Path(run_dir)).require()
    manifest = read_json(rd.manifest)
    used = (rd.model_weights, rd.model_spec, rd.preprocessing, rd.config)
    for path in used:
        verify_artefact(rd, path, manifest)
    require_intact(rd.root, [str(p.relative_to(rd.root)) for p in used])  # and the event log's chain
    spec = read_json(rd.model_spec)
    config = _read_config(rd.config)
    prep = TabularPreprocessor.from_state(read_json(rd.preprocessing))
    network = load_network(spec, rd.model_weights)
    return LoadedRun(rd, manifest, config, spec, prep, network)
