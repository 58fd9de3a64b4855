"""The Python API for notebooks and pipelines: ``medtorch.train(...)`` and ``medtorch.open_run(path)``.

Both return a ``Run``: a handle on one run directory that reads its evidence (metrics,
validation predictions, the report) and performs the later acts on it through the same code
as the CLI verbs (the governed test look, predictions on a data frame, explanations, the
bridge re-evaluation), so every act is recorded in the run's event log exactly as from the shell.

``medtorch.train`` composes the config with Hydra's compose API from the packaged configs
(plus ``./conf`` or ``$MEDTORCH_CONFIG_DIR``), then runs the pipeline in this process. Nothing
here is imported by ``import medtorch``: the package resolves these names on first use.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from medtorch.errors import MedtorchError

if TYPE_CHECKING:
    from medtorch.run import RunDir


@dataclass(frozen=True)
class Run:
    """A run directory and what can be done with it."""

    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return self._json(self._rd.manifest)

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics record: validation metrics, the selected epoch and the epoch history."""
        return self._json(self._rd.metrics)

    @property
    def predictions(self):
        """The validation predictions (row id, true and predicted label, class probabilities) as a DataFrame."""
        import pandas as pd

        return pd.read_csv(self._rd.predictions("val"))

    @property
    def report_path(self) -> Path:
        """The HTML evidence report, written at the end of training (``medtorch report`` rewrites it)."""
        return self._rd.report_html

    def evaluate(self, test_data: str | Path | None = None, registry: str | None = None) -> dict[str, Any]:
        """The governed look at the sealed test set (or ``test_data``), recorded in the test-set registry.

        ``registry`` overrides the registry the run is bound to (recorded and shown, as ``--registry``).
        """
        from medtorch.survival.checks import is_survival_run

        if is_survival_run(str(self.path)):
            from medtorch.survival.governed import survival_test_look

            return survival_test_look(self.path, registry=registry, test_data=str(test_data) if test_data else None)
        from medtorch.evaluation.governed import governed_test_look

        return governed_test_look(self.path, test_data=str(test_data) if test_data else None, registry=registry)

    def predict(self, frame, on_invalid: str = "refuse"):
        """Spec-checked predictions for the rows of a DataFrame (the run's feature columns), as a DataFrame."""
        import pandas as pd

        from medtorch.deploy.predict import predict_file

        with tempfile.TemporaryDirectory(prefix="medtorch-predict-") as tmp:
            src, out = Path(tmp) / "input.parquet", Path(tmp) / "output.csv"
            frame.to_parquet(src, index=False)
            predict_file(self.path, src, out, on_invalid=on_invalid)
            return pd.read_csv(out)

    def explain(self, *options: str, name: str | None = None) -> dict[str, Any]:
        """Explain the run again (options as for ``medtorch explain``, e.g. ``"--method", "lime"``); the report."""
        from medtorch.artefacts import artefact
        from medtorch.audit import utc_now
        from medtorch.run import read_json

        name = name or "api-" + utc_now().replace(":", "-")
        self._verb("explain", "--name", name, *options)
        return read_json(self._rd.later_explanation_dir(name) / artefact("explanation").name)

    def bridge(self) -> dict[str, Any]:
        """Re-evaluate the model on this stack against its stored reference; the bridge report."""
        from dataclasses import asdict

        from medtorch.loading import load_run
        from medtorch.stack.bridge import run_bridge
        from medtorch.stack.gate import put_on_stack

        return asdict(run_bridge(put_on_stack(load_run(self.path)), purpose="bridge"))

    def _verb(self, verb: str, *options: str) -> int:
        import importlib

        from medtorch.cli import VERBS, build_parser

        args = build_parser().parse_args([verb, str(self.path), *options])
        return int(importlib.import_module(VERBS[verb][0]).run(args) or 0)

    @property
    def _rd(self) -> RunDir:
        from medtorch.run import RunDir

        return RunDir(self.path)

    def _json(self, path: Path) -> dict[str, Any]:
        from medtorch.run import read_json

        return read_json(path)

    def _config(self) -> dict[str, Any]:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.load(self._rd.config), resolve=True)  # type: ignore[return-value]


def open_run(path: str | Path) -> Run:
    """A handle on an existing run directory (checked to be one)."""
    from medtorch.run import RunDir, not_a_directory

    p = Path(path)
    manifest = RunDir(p).manifest
    if not p.is_dir():
        raise MedtorchError(not_a_directory(p))
    if not manifest.is_file():
        raise MedtorchError(f"{p}: not a medtorch run directory (no {manifest.name}); give the directory that "
                            "train.py printed as 'Run directory: ...'.")
    return Run(p.resolve())


def train(overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> Run:
    """Train as ``medtorch train *overrides`` would, in this process; the run's handle.

    ``run_dir``: where the run directory goes (default: Hydra's ``runs/EXPERIMENT/TIME_UID``
    under the working directory, as from the command line).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    from medtorch import pipeline
    from medtorch.launch import CONF_DIR, launch_record, register, search_path_overrides
    from medtorch.progress import configure

    register()
    given = [str(o) for o in overrides]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        cfg = compose("config", overrides=search_path_overrides(given), return_hydra_config=True)
    hydra_node = OmegaConf.to_container(cfg.hydra, resolve=False)
    target = Path(run_dir) if run_dir is not None else Path(str(cfg.hydra.run.dir))  # resolves now and the uid
    with open_dict(cfg):
        del cfg["hydra"]
    configure(cfg.get("progress", "auto"))
    pipeline.run(cfg, target, launch_record(cfg, hydra_node, given))
    return Run(target.resolve())
