"""Load a finished run for any later act on it (evaluate, predict, bridge, explain, monitor).

``load_run`` is the one door: it checks that the run completed, that the weights and the
preprocessing state are the ones the run recorded (a changed file is refused), that the event
log's hash chain is intact, and rebuilds the preprocessing and the network without importing
Lightning. Unless it is only inspected, it then puts the run's numeric settings and the
inference settings in force, takes the stack fingerprint, and runs the automatic bridge
(``medtorch.stack.gate``) when this stack has no passed bridge on record: a model is never
used on an unbridged stack without a recorded override.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from torch import nn

from medtorch.data.transforms import TabularPreprocessor
from medtorch.errors import IntegrityError
from medtorch.hashing import sha256_file
from medtorch.integrity import require_intact
from medtorch.models.inference import load_network
from medtorch.run import RunDir, read_json

if TYPE_CHECKING:
    from medtorch.stack.settings import InferenceSettings

# purposes that do not compute predictions, or that are the bridge itself, skip the automatic bridge
NO_BRIDGE = ("inspect", "bridge")


@dataclass
class LoadedRun:
    rd: RunDir
    manifest: dict[str, Any]
    config: dict[str, Any]
    spec: dict[str, Any]  # model.json
    preprocessor: TabularPreprocessor
    network: nn.Module
    settings: Optional["InferenceSettings"] = None  # inference settings in force (None when inspected)
    stack: Optional[dict[str, Any]] = None  # fingerprint of the stack the model runs on
    bridge: Optional[dict[str, Any]] = None  # how this stack was cleared: reference_stack | passed_on_record | ...

    @property
    def classes(self) -> list[str]:
        return list(self.spec["classes"])


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


def load_run(run_dir: str | Path, *, purpose: str = "use", settings: Optional["InferenceSettings"] = None,
             override_reason: str | None = None) -> LoadedRun:
    """Load a finished run; ``purpose`` (evaluate, predict, explain, ...) is recorded by the bridge.

    ``settings`` (threads, dtype, device; default: the run's own) are put in force before the
    stack is fingerprinted. ``override_reason`` lets a load go on after a failed bridge, recorded.
    ``purpose="inspect"`` only reads the run (no settings applied, no bridge).
    """
    from omegaconf import OmegaConf

    rd = RunDir(Path(run_dir)).require()
    manifest = read_json(rd.manifest)
    used = (rd.model_weights, rd.model_spec, rd.preprocessing, rd.config)
    for path in used:
        verify_artefact(rd, path, manifest)
    require_intact(rd.root, [str(p.relative_to(rd.root)) for p in used])  # and the event log's chain
    spec = read_json(rd.model_spec)
    config = OmegaConf.to_container(OmegaConf.load(rd.config), resolve=True)
    prep = TabularPreprocessor.from_state(read_json(rd.preprocessing))
    network = load_network(spec, rd.model_weights)
    loaded = LoadedRun(rd, manifest, config, spec, prep, network)
    if purpose == "inspect":
        return loaded
    import torch

    from medtorch.stack import settings as stack_settings
    from medtorch.stack.gate import ensure_bridged

    loaded.settings = settings or stack_settings.InferenceSettings()
    loaded.stack = stack_settings.apply(config, loaded.settings)
    loaded.network = network.to(device=loaded.settings.device, dtype=getattr(torch, loaded.settings.dtype))
    if purpose not in NO_BRIDGE:
        loaded.bridge = ensure_bridged(loaded, purpose, override_reason)
    return loaded
