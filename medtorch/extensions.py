"""What users plug into training by ``_target_``: loggers, extra callbacks, a learning-rate scheduler.

The config groups follow lightning-hydra-template's layout: ``logger`` and ``callbacks`` are
maps of name -> node with a ``_target_`` (so ``logger=many`` composes several), ``scheduler``
holds one ``lr_scheduler`` node (``_partial_``: the optimizer is given when it exists) and when
to step it. medtorch's own checkpoint and early-stopping callbacks are always present; these
are added beside them. Lightning's trainer flags (``trainer.fast_dev_run`` ...) are checked
here too, by type, so ``config.validate`` reports every problem at once.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Mapping

from medtorch.errors import MedtorchError

INTERVALS = ("epoch", "step")
PROFILERS = (None, "simple", "advanced", "pytorch")
PROGRESS = ("auto", "on", "off")
# the optional extra that provides each logger, for the error a missing one gets
EXTRAS = {"TensorBoardLogger": "tensorboard", "MLFlowLogger": "mlflow"}
PROVIDERS = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",)}  # extra -> importable modules
# Lightning's own loggers and callbacks: present in every pytorch-lightning this package accepts
# (tests/test_loggers_callbacks_schedulers.py locates each one), so a config naming them is checked without
# importing Lightning, which is most of a refused run's time (about 3 of 5 s). Any other
# _target_ is imported to check it.
LIGHTNING_TARGETS = frozenset(
    [f"pytorch_lightning.loggers.{name}" for name in ("CSVLogger", "TensorBoardLogger", "MLFlowLogger")]
    + [f"pytorch_lightning.callbacks.{name}" for name in (
        "LearningRateMonitor", "EarlyStopping", "ModelCheckpoint", "StochasticWeightAveraging", "DeviceStatsMonitor",
        "GradientAccumulationScheduler", "Timer", "ModelSummary", "RichModelSummary", "ThroughputMonitor")])


def extension_problems(cfg) -> list[str]:
    """Every problem with the logger, callbacks, scheduler, progress and Lightning trainer flags."""
    from medtorch.models.targets import locate, signature_problems

    problems: list[str] = []

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"{key} must be {expected}; got {got!r}")

    for group in ("logger", "callbacks"):
        nodes = _plain(cfg.get(group))
        need(isinstance(nodes, dict), group, "a map of name -> {_target_: ..., arguments}", nodes)
        for name, node in (nodes or {}).items() if isinstance(nodes, dict) else ():
            if node is None:  # a group entry switched off with ~logger.NAME or logger.NAME=null
                continue
            if not isinstance(node, dict) or "_target_" not in node:
                problems.append(f"{group}.{name} must be a node with a _target_; got {node!r}")
                continue
            extra = EXTRAS.get(str(node["_target_"]).rsplit(".", 1)[-1])
            try:
                if node["_target_"] not in LIGHTNING_TARGETS:
                    locate(node["_target_"], f"{group}.{name}._target_")
            except MedtorchError as e:
                problems.append(str(e) + (f' (pip install "medtorch[{extra}]")' if extra else ""))
                continue
            if extra and not any(importlib.util.find_spec(m) for m in PROVIDERS[extra]):
                problems.append(f"{group}.{name} needs the {extra} package, which is not installed; "
                                f'install it with: pip install "medtorch[{extra}]"')
    s = _plain(cfg.get("scheduler")) or {}
    need(isinstance(s, dict), "scheduler", "a scheduler config (scheduler=none|cosine|one_cycle|reduce_on_plateau)", s)
    if isinstance(s, dict) and s.get("lr_scheduler"):
        need(s.get("interval", "epoch") in INTERVALS, "scheduler.interval", f"one of {INTERVALS}", s.get("interval"))
        node = s["lr_scheduler"]
        try:
            target = locate(node.get("_target_"), "scheduler.lr_scheduler._target_")
            args = {k: v for k, v in node.items() if not k.startswith("_")}
            problems += [p for p in signature_problems(target, {"optimizer": None, **args}, "scheduler.lr_scheduler")
                         if "cannot take n_features" not in p]
        except MedtorchError as e:
            problems.append(str(e))
    t = cfg.trainer
    fdr = t.fast_dev_run
    need(isinstance(fdr, bool) or (isinstance(fdr, int) and fdr >= 1), "trainer.fast_dev_run",
         "true, false or a number of batches >= 1", fdr)
    for key in ("limit_train_batches", "limit_val_batches", "val_check_interval"):
        v = t[key]
        need(not isinstance(v, bool) and ((isinstance(v, int) and v >= 1) or (isinstance(v, float) and 0.0 < v <= 1.0)),
             f"trainer.{key}", "a fraction in (0, 1] (float) or a number of batches >= 1 (int)", v)
    need(t.accumulate_grad_batches >= 1, "trainer.accumulate_grad_batches", ">= 1", t.accumulate_grad_batches)
    k = t.get("steps_per_execution", "auto")
    need(k == "auto" or (isinstance(k, int) and not isinstance(k, bool) and k >= 1), "trainer.steps_per_execution",
         'auto or an integer >= 1', k)
    if isinstance(k, int) and not isinstance(k, bool) and k > 1:
        for key in batch_counted(t):
            problems.append(f"trainer.steps_per_execution={k} cannot be combined with trainer.{key}={t[key]!r}: "
                            f"Lightning counts that in its own steps, each of which would be {k} batches; "
                            "set trainer.steps_per_execution=auto or 1")
        if not _one_process(t):
            problems.append(f"trainer.steps_per_execution={k} needs one training process (trainer.strategy="
                            f"{t.strategy}, devices={t.devices}, num_nodes={t.num_nodes} may start several, and "
                            "grouped steps are not run under DDP); set trainer.steps_per_execution=auto or 1, or "
                            "train in one process (trainer.devices=1, trainer.num_nodes=1, a strategy other than ddp)")
        if cfg.get("task", "classification") == "survival":
            problems.append(f"trainer.steps_per_execution={k}: only classification groups its training batches; "
                            "set trainer.steps_per_execution=auto or 1 with task=survival")
    need(t.log_every_n_steps >= 1, "trainer.log_every_n_steps", ">= 1", t.log_every_n_steps)
    need(t.profiler in PROFILERS, "trainer.profiler", f"one of {PROFILERS}", t.profiler)
    if isinstance(s, dict) and s.get("monitor") is not None:
        from medtorch.config.schema import MONITORS

        need(s["monitor"] in MONITORS, "scheduler.monitor", f"one of {MONITORS} or null", s["monitor"])
    need(cfg.get("progress", "auto") in PROGRESS, "progress", f"one of {PROGRESS}", cfg.get("progress"))
    if fdr:
        need(not cfg.evaluation.test_look, "evaluation.test_look",
             "false with trainer.fast_dev_run (a smoke run is not evidence and never looks at the test set)", True)
    return problems


# Lightning's flags in the trainer schema and their defaults; only changed ones are passed, so
# Lightning does not print a line for every flag left at its default
TRAINER_FLAGS = {"fast_dev_run": False, "limit_train_batches": 1.0, "limit_val_batches": 1.0,
                 "val_check_interval": 1.0, "profiler": None}


def trainer_flags(t) -> dict[str, Any]:
    """The Lightning Trainer flags of ``trainer`` that differ from their defaults, and the profiler.

    The profiler is always given: with no ``trainer.profiler`` medtorch's ``Unprofiled`` (Lightning's
    no-op profiler without its per-hook context-manager cost); a named profiler as named.
    """
    flags = {k: t[k] for k, default in TRAINER_FLAGS.items() if t[k] != default or type(t[k]) is not type(default)}
    if t.profiler is None:
        from medtorch.models.module import Unprofiled

        flags["profiler"] = Unprofiled()
    return flags


# Batches a Lightning step takes by default (trainer.steps_per_execution=auto): Lightning's loop costs
# 0.25-0.32 ms a step on this CPU before any work (scripts/bench_train.py --floor); 8 make that 0.03-0.04 ms
AUTO_STEPS_PER_EXECUTION = 8


def batch_counted(t) -> list[str]:
    """The trainer settings, left off their defaults, that Lightning counts in its own (training) steps."""
    changed = [key for key in ("fast_dev_run", "limit_train_batches", "val_check_interval")
               if t[key] != TRAINER_FLAGS[key] or type(t[key]) is not type(TRAINER_FLAGS[key])]
    return changed + (["checkpoint_every_n_steps"] if t.get("checkpoint_every_n_steps") else [])


def steps_per_execution(cfg, processes: int = 1) -> int:
    """Training batches the module takes in one Lightning step (``trainer.steps_per_execution``).

    ``auto`` is AUTO_STEPS_PER_EXECUTION, or 1 where something counts Lightning's steps as batches:
    a trainer setting of ``batch_counted``, or the user's callbacks (their batch hooks would see
    groups). The same batches are stepped through in the same order either way, so the weights are
    the same (tests/test_steps_per_execution.py). Survival training always takes one.

    Under DDP (``processes`` > 1, known once Lightning's Trainer is built) it is always 1: DDP's
    forward-side work (buffer broadcast, the reducer's per-iteration set-up) runs once per forward
    call, which would be once per group, and grouped steps have not been verified there. A number
    > 1 is refused by validation unless the trainer settings name one process, and here.
    """
    k = cfg.trainer.get("steps_per_execution", "auto")
    if k != "auto":
        if int(k) > 1 and processes > 1:
            raise MedtorchError(f"trainer.steps_per_execution={k} cannot be used with {processes} processes (grouped "
                                "steps are not run under DDP); set trainer.steps_per_execution=auto or 1, or train in one process.")
        return int(k)
    if (processes > 1 or cfg.get("task", "classification") == "survival" or batch_counted(cfg.trainer)
            or user_callbacks(cfg)):
        return 1
    return AUTO_STEPS_PER_EXECUTION


def _one_process(t) -> bool:
    """Whether the trainer settings name exactly one training process, whatever the machine."""
    devices = t.devices
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    one = (devices == 1 or (not isinstance(devices, (str, int)) and len(devices) == 1)
           or (devices == "auto" and t.accelerator == "cpu"))
    return one and t.num_nodes == 1 and not str(t.strategy).startswith("ddp")


def user_callbacks(cfg) -> list[str]:
    """The names of the user's callbacks that are switched on."""
    return [name for name, node in (_plain(cfg.get("callbacks")) or {}).items() if node is not None]


def build_loggers(cfg, run_root: Path) -> list:
    """The configured Lightning loggers; a logger without ``save_dir`` writes inside the run directory."""
    from hydra.utils import instantiate

    out = []
    for name, node in (_plain(cfg.get("logger")) or {}).items():
        if node is None:
            continue
        node = dict(node)
        target = str(node["_target_"])
        if "MLFlowLogger" in target:
            node.setdefault("tracking_uri", "sqlite:///mlflow.db")
        elif "save_dir" not in node:
            node["save_dir"] = str(run_root)
        try:
            out.append(instantiate(node))
        except Exception as e:
            cause = e.__cause__ or e
            extra = EXTRAS.get(target.rsplit(".", 1)[-1])
            hint = f'; install it with: pip install "medtorch[{extra}]"' if extra else ""
            raise MedtorchError(f"logger.{name}: cannot create {target} ({type(cause).__name__}: {cause}){hint}.") from None
    return out


def build_callbacks(cfg) -> list:
    """The extra callbacks of the ``callbacks`` group, in config order."""
    from hydra.utils import instantiate

    return [instantiate(node) for node in (_plain(cfg.get("callbacks")) or {}).values() if node is not None]


def scheduler_factory(cfg):
    """None, or a function ``(optimizer, total_steps) -> (scheduler, interval, monitor)`` for the module."""
    s = _plain(cfg.get("scheduler")) or {}
    if not s.get("lr_scheduler"):
        return None
    node, interval, monitor = dict(s["lr_scheduler"]), s.get("interval", "epoch"), s.get("monitor")

    def make(optimizer, total_steps: int):
        import inspect

        from hydra.utils import instantiate

        from medtorch.models.targets import locate

        kwargs = {}
        if "total_steps" in inspect.signature(locate(node["_target_"])).parameters and node.get("total_steps") is None:
            kwargs["total_steps"] = max(int(total_steps), 1)  # one-cycle: the steps Lightning will take
        node.pop("_partial_", None)
        return instantiate({**node, **kwargs}, optimizer=optimizer), interval, monitor

    return make


def _plain(node):
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def attach_evidence(loggers, rd, log) -> None:
    """Link experiment trackers back to the evidence: tags and the report on each MLflow run.

    Tags ``medtorch.run_id``, ``medtorch.manifest_sha256`` and ``medtorch.run_dir``; artefacts
    the HTML and Markdown reports and the manifest. Recorded in the run's event log.
    """
    from medtorch.hashing import sha256_file
    from medtorch.run import read_json

    for lg in loggers or []:
        if type(lg).__name__ != "MLFlowLogger":
            continue
        client, run_id = lg.experiment, lg.run_id
        tags = {"medtorch.run_id": read_json(rd.manifest)["run_id"], "medtorch.manifest_sha256": sha256_file(rd.manifest),
                "medtorch.run_dir": str(Path(rd.root).resolve())}
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        for path in (rd.report_html, rd.report_md, rd.manifest):
            if Path(path).is_file():
                client.log_artifact(run_id, str(path), artifact_path="medtorch")
        log.append("tracker_linked", {"tracker": "mlflow", "tracking_uri": lg._tracking_uri, "mlflow_run_id": run_id,
                                      "tags": tags})
