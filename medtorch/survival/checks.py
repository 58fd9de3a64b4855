"""Configuration checks of ``task=survival`` (called from ``medtorch.config.validate``), and the verbs a
survival run refuses until they learn survival (EXIT_BAD_INPUT, naming the verb)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.errors import MedtorchError

UNITS = ("day", "month", "year")
MONITORS = ("val/cindex", "val/loss")
# verbs that work on a survival run directory; every other verb refuses it (see refuse_unsupported_verb)
SUPPORTED_VERBS = ("audit", "fingerprint", "report", "predict", "monitor", "bridge", "evaluate", "show", "registry",
                   "explain")


def survival_problems(cfg: Any) -> list[str]:
    from medtorch.survival.acceptance import is_survival_quantity
    from medtorch.survival.loss import TIES

    problems: list[str] = []

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"{key} must be {expected}; got {got!r}")

    d, ev, s = cfg.data, cfg.evaluation, cfg.survival
    if d.source == "table":
        need(bool(d.duration_column), "data.duration_column", "the follow-up time column for task=survival",
             d.duration_column)
        need(bool(d.event_column), "data.event_column", "the event column (1 event, 0 censored) for task=survival",
             d.event_column)
        need(not d.event_column or d.event_column != d.duration_column, "data.event_column",
             "another column than data.duration_column", d.event_column)
    need(d.source in ("table", "gbsg2"), "data.source", "'table' or 'gbsg2' for task=survival", d.source)
    need(d.duration_unit in UNITS, "data.duration_unit", f"one of {UNITS}", d.duration_unit)
    need(ev.horizon_unit in UNITS, "evaluation.horizon_unit", f"one of {UNITS}", ev.horizon_unit)
    need(len(ev.horizons) > 0 and all(h > 0 for h in ev.horizons), "evaluation.horizons",
         "a list of positive times (in evaluation.horizon_unit)", list(ev.horizons))
    need(list(ev.horizons) == sorted(set(ev.horizons)), "evaluation.horizons", "increasing, without repeats",
         list(ev.horizons))
    need(s.ties in TIES, "survival.ties", f"one of {TIES}", s.ties)
    need(s.empty_batches == "skip", "survival.empty_batches", "'skip' (batches without an event are skipped and "
         "counted)", s.empty_batches)
    need(s.cox_penalizer >= 0, "survival.cox_penalizer", ">= 0", s.cox_penalizer)
    need(s.risk_groups >= 2, "survival.risk_groups", ">= 2", s.risk_groups)
    need(s.min_cindex is None or 0 <= s.min_cindex <= 1, "survival.min_cindex", "in [0, 1] or null", s.min_cindex)
    need(s.bridge_max_abs_risk_diff >= 0, "survival.bridge_max_abs_risk_diff", ">= 0", s.bridge_max_abs_risk_diff)
    need(-1 <= s.bridge_min_kendall_tau <= 1, "survival.bridge_min_kendall_tau", "in [-1, 1]", s.bridge_min_kendall_tau)
    need(s.bridge_max_cindex_delta >= 0, "survival.bridge_max_cindex_delta", ">= 0", s.bridge_max_cindex_delta)
    need(s.brier_points >= 2, "survival.brier_points", ">= 2", s.brier_points)
    es = cfg.early_stopping
    need(es.monitor in MONITORS + ("val/mcc",), "early_stopping.monitor",
         f"one of {MONITORS} for task=survival (the default val/mcc means val/cindex)", es.monitor)
    need(cfg.split.strategy in ("stratified", "grouped", "temporal"), "split.strategy",
         "'stratified', 'grouped' or 'temporal' for task=survival (an external test file is not yet supported)",
         cfg.split.strategy)
    t = cfg.trainer  # the partial likelihood and the validation C-index are computed over whole splits in one process
    need(str(t.devices) in ("auto", "1") and t.num_nodes == 1 and "ddp" not in str(t.strategy).lower(),
         "trainer.devices/num_nodes/strategy", "one device in one process for task=survival (distributed training "
         "is not yet supported)", [t.devices, t.num_nodes, t.strategy])
    need(cfg.get("ckpt_path") is None, "ckpt_path", "null for task=survival (resuming an interrupted survival run "
         "is not yet supported; start a new run)", cfg.get("ckpt_path"))
    need(not cfg.cv.folds, "cv.folds", "0 for task=survival (cross-validation does not yet handle survival)",
         cfg.cv.folds)
    for key in ("oversample", "class_weights", "augmentation"):
        need(cfg.balance[key] == "none", f"balance.{key}", "'none' for task=survival", cfg.balance[key])
    need(cfg.balance.mixup_alpha == 0, "balance.mixup_alpha", "0 for task=survival", cfg.balance.mixup_alpha)
    need(not cfg.bridge.reference_file, "bridge.reference_file", "null for task=survival", cfg.bridge.reference_file)
    for line in cfg.acceptance.criteria:
        q = str(line).split()[0] if str(line).split() else ""
        need(is_survival_quantity(q), "acceptance.criteria", "survival quantities for task=survival "
             "(cindex, cindex_lower_ci, uno_cindex, ibs_upper_ci, td_auc_5y, mcc_at_5y_lower_ci, ...)", str(line))
    return problems


def is_survival_run(run_dir: str | Path) -> bool:
    from medtorch.run import RunDir

    cfg = RunDir(run_dir).config
    if not cfg.is_file():
        return False
    from omegaconf import OmegaConf

    try:
        return OmegaConf.load(cfg).get("task", "classification") == "survival"
    except Exception:  # an unreadable config is the verb's own error to report
        return False


def refuse_unsupported_verb(verb: str, run_dir: str | None) -> None:
    if run_dir and verb not in SUPPORTED_VERBS and is_survival_run(run_dir):
        raise MedtorchError(
            f"{run_dir} is a task=survival run, and '{verb}' does not yet handle survival "
            f"models (it would report classification numbers). Verbs that work on survival runs: "
            f"{', '.join(SUPPORTED_VERBS)}."
        )


# why a survival verb has no use for a classification verb's option (the stack options: see refuse_ignored_options)
_NOT_APPLIED = {
    "time": "survival monitoring compares the whole input with the training reference and has no calendar windows",
    "window": "survival monitoring compares the whole input with the training reference and has no calendar windows",
    "chunk_rows": "a survival run reads and checks its input in one piece",
    "on_invalid": "any row that breaks the data specification refuses a survival run's whole input",
    "rejected": "any row that breaks the data specification refuses a survival run's whole input, so none is set aside",
    "violations": "any row that breaks the data specification refuses a survival run's whole input, listing the first "
                  "violations in the error",
}


def refuse_ignored_options(args: Any, verb: str, **defaults: Any) -> None:
    """Refuse (EXIT_BAD_INPUT) an option a survival verb does not apply (``defaults``: each such option's default,
    keyed as on ``args``; the stack options' come from ``medtorch.stack.settings.defaults``), given away from it: ignoring it
    would let a governed look or a prediction stand as made under settings that were never in force. Each refused
    option is named with the reason it does not apply: a stack option because the model runs in float32 on the CPU
    with the run's own settings, the others for their own reasons (``_NOT_APPLIED``)."""
    given = {name: f"--{name.replace('_', '-')} {getattr(args, name)}" for name, default in defaults.items()
             if getattr(args, name, default) != default}
    if not given:
        return
    stack = [shown for name, shown in given.items() if name not in _NOT_APPLIED]
    reasons = [f"{', '.join(stack)}: a survival run runs its model in float32 on the CPU with the run's own settings"] if stack else []
    by_reason: dict[str, list[str]] = {}
    for name, shown in given.items():
        if name in _NOT_APPLIED:
            by_reason.setdefault(_NOT_APPLIED[name], []).append(shown)
    reasons += [f"{', '.join(options)}: {why}" for why, options in by_reason.items()]
    raise MedtorchError(f"not supported by {verb} on a survival run (task=survival): {'; '.join(reasons)}. "
                        "Nothing was done; leave these options out.")
