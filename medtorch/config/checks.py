"""``validate``: the values a type cannot express (a fraction outside (0, 1), a strategy without its
column, ...), checked after composition; every problem is reported at once, before anything is written."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from medtorch.config.schema import MODELS, MONITORS, PRECISIONS, SOURCES, STRATEGIES
from medtorch.errors import MedtorchError


def validate(cfg: DictConfig) -> None:
    """Check every key (medtorch.config_keys) and the values a type cannot express; raise one error listing every problem."""
    from medtorch.config_keys import key_problems

    problems: list[str] = key_problems(cfg)

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"{key} must be {expected}; got {got!r}")

    d = cfg.data
    need(d.source in SOURCES, "data.source", f"one of {SOURCES}", d.source)
    survival = cfg.get("task", "classification") == "survival"
    if d.source == "table":
        need(bool(d.path), "data.path", "a CSV or Parquet file (data.path=FILE)", d.path)
        if not survival:  # a survival table has data.event_column and data.duration_column instead
            need(bool(d.target), "data.target", "the label column (data.target=COLUMN)", d.target)
    elif d.source in SOURCES:
        # a built-in source never reads a file: a data.path given with it would be silently ignored
        # and the run would train on the built-in table instead of the user's file
        need(d.path is None, "data.path", f"unset with data.source={d.source!r}, which is built in (a file is read by "
             "data=table or +experiment=table: data=table data.path=FILE data.target=COLUMN)", d.path)
        if d.source in ("breast_cancer", "gbsg2"):  # their outcome columns are fixed
            need(d.target is None, "data.target", f"unset with data.source={d.source!r} (its outcome is fixed; "
                 "data.target names the label column of data=table)", d.target)
    need(d.format in ("auto", "csv", "parquet"), "data.format", "one of 'auto', 'csv', 'parquet'", d.format)
    need(d.get("nonfinite", "refuse") in ("refuse", "missing"), "data.nonfinite", "'refuse' or 'missing'", d.get("nonfinite"))

    s = cfg.split
    for part in ("train", "val", "test"):
        v = s[part]
        need(0.0 < v < 1.0 or (part == "test" and v == 0.0), f"split.{part}", "a fraction in (0, 1)", v)
    total = s.train + s.val + s.test
    need(abs(total - 1.0) < 1e-6, "split.train + split.val + split.test", "1.0", round(total, 6))
    _validate_governance(cfg, need)

    m = cfg.model
    from medtorch.extensions import extension_problems
    from medtorch.models.targets import SHIPPED, network_problems

    # A shipped network's keys were checked against its schema above (its signature check would name them twice),
    # and its schema matches its constructor (tests/test_custom_network.py), so only another _target_ is imported
    # and checked here: the import brings in torch, about 2 s of a refused run's 3.
    shipped = m.get("name") in SHIPPED and SHIPPED[m.get("name")] == m.get("_target_")  # model=custom has no name here
    if not shipped and not any(p.startswith("model.") for p in problems):
        problems += network_problems(m)
    problems += extension_problems(cfg)
    need(m.get("name") in MODELS or "_target_" in m.keys(), "model.name", f"one of {MODELS} (or a model._target_)", m.get("name"))
    if "dropout" in m:
        need(0.0 <= m.dropout < 1.0, "model.dropout", "in [0, 1)", m.dropout)
    if "hidden" in m:
        need(len(m.hidden) > 0 and all(h > 0 for h in m.hidden), "model.hidden", "a list of positive widths", list(m.hidden))
    if "activation" in m:
        need(m.activation in ("relu", "gelu", "silu"), "model.activation", "one of 'relu', 'gelu', 'silu'", m.activation)

    if m.get("name") == "attention":
        need(m.d_token >= 1 and m.n_heads >= 1 and m.d_token % m.n_heads == 0, "model.d_token",
             f"a positive multiple of model.n_heads ({m.n_heads})", m.d_token)
        need(m.n_layers >= 1, "model.n_layers", ">= 1", m.n_layers)
        need(0.0 <= m.attention_dropout < 1.0, "model.attention_dropout", "in [0, 1)", m.attention_dropout)
        need(m.ffn_factor > 0, "model.ffn_factor", "> 0", m.ffn_factor)
    if "explain" in cfg:
        from medtorch.explain.settings import explain_problems

        problems += explain_problems(cfg.explain)
        need(cfg.explain.split == "val", "explain.split", "'val' at the end of training (the test split is sealed; "
             "explain test rows later, after the governed look: medtorch evaluate RUN, then medtorch explain RUN "
             "--split test)", cfg.explain.split)

    o = cfg.optim
    need(o.lr > 0, "optim.lr", "> 0", o.lr)
    need(o.weight_decay >= 0, "optim.weight_decay", ">= 0", o.weight_decay)
    need(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas), "optim.betas", "two values in [0, 1)", list(o.betas))

    t = cfg.trainer
    need(t.max_epochs >= 1, "trainer.max_epochs", ">= 1", t.max_epochs)
    if t.max_epochs >= 1:  # else the max_epochs line says it: no second line about min_epochs
        need(1 <= t.min_epochs <= t.max_epochs, "trainer.min_epochs", "between 1 and trainer.max_epochs", t.min_epochs)
    need(t.batch_size >= 1, "trainer.batch_size", ">= 1", t.batch_size)
    need(t.eval_batch_size >= 1, "trainer.eval_batch_size", ">= 1", t.eval_batch_size)
    need(str(t.precision) in PRECISIONS, "trainer.precision", f"one of {PRECISIONS}", t.precision)
    need(t.accelerator in ("auto", "cpu", "gpu", "cuda"), "trainer.accelerator", "one of 'auto', 'cpu', 'gpu', 'cuda'", t.accelerator)
    need(t.gradient_clip_val is None or t.gradient_clip_val > 0, "trainer.gradient_clip_val", "> 0 or null", t.gradient_clip_val)
    need(t.gradient_clip_algorithm in ("norm", "value"), "trainer.gradient_clip_algorithm", "'norm' or 'value'", t.gradient_clip_algorithm)
    # the module clips in on_before_optimizer_step, which DeepSpeed's engine never calls: refuse, don't drop it
    need(not (t.gradient_clip_val and "deepspeed" in str(t.strategy).lower()), "trainer.gradient_clip_val",
         "null with a DeepSpeed strategy (set gradient_clipping in the DeepSpeed config)", t.gradient_clip_val)
    need(t.num_threads is None or t.num_threads >= 1, "trainer.num_threads", ">= 1 or null", t.num_threads)
    every = t.get("checkpoint_every_n_steps")
    need(every is None or every >= 1, "trainer.checkpoint_every_n_steps", ">= 1 or null", every)
    need(t.matmul_precision in ("highest", "high", "medium"), "trainer.matmul_precision", "'highest', 'high' or 'medium'", t.matmul_precision)

    e = cfg.early_stopping
    if survival:  # task=survival: its own monitors, data, horizons and refusals (medtorch/survival/checks.py)
        from medtorch.survival.checks import survival_problems

        problems += survival_problems(cfg)
    else:
        need(d.source != "gbsg2", "data.source", "used with task=survival (gbsg2 is time-to-event data)", d.source)
        for key in ("duration_column", "event_column"):  # else ignored: the follow-up time would become a feature
            need(d.get(key) is None or d.source == "gbsg2", f"data.{key}", "unset without task=survival (it names a "
                 "time-to-event table's column; add task=survival to train a survival model)", d.get(key))
        need(cfg.get("task", "classification") == "classification", "task", "'classification' or 'survival'",
             cfg.get("task"))
        need(e.monitor in MONITORS, "early_stopping.monitor", f"one of {MONITORS}", e.monitor)
        from medtorch.survival.acceptance import is_survival_quantity

        for line in cfg.acceptance.criteria:  # td_auc_5y, cindex, ... are judged by task=survival runs only
            q = str(line).split()[0] if str(line).split() else ""
            need(not is_survival_quantity(q), "acceptance.criteria", "classification quantities for "
                 "task=classification (survival quantities need task=survival)", str(line))
    need(e.mode in ("min", "max"), "early_stopping.mode", "'min' or 'max'", e.mode)
    need(e.patience >= 1, "early_stopping.patience", ">= 1", e.patience)
    need(cfg.seed >= 0, "seed", ">= 0", cfg.seed)
    _validate_registry(cfg, need)
    _validate_assessment(cfg, need, problems)
    ref = cfg.bridge.reference_file
    need(ref is None or Path(ref).is_file(), "bridge.reference_file", "an existing CSV or Parquet file (or null)", ref)
    for key, tol in cfg.bridge.items():
        if not key.startswith("max_") and not key.startswith("mean_"):
            continue
        rate = "rate" in key
        need(tol >= 0 and (tol <= 1 or not rate), f"bridge.{key}", "in [0, 1]" if rate else ">= 0", tol)
    _validate_deploy(cfg, need)

    if problems:
        raise MedtorchError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _validate_registry(cfg: DictConfig, need) -> None:
    from medtorch.registry.location import IMPORT_HINT

    need(cfg.split.seed >= 0, "split.seed", ">= 0", cfg.split.seed)
    need(1 <= cfg.registry.row_digits <= 17, "registry.row_digits", "between 1 and 17", cfg.registry.row_digits)
    need(cfg.evaluation.ledger is None, "evaluation.ledger", f"unset (retired). {IMPORT_HINT}", cfg.evaluation.ledger)


def _validate_assessment(cfg: DictConfig, need, problems: list[str]) -> None:
    from medtorch.evaluation.acceptance import criteria_problems

    problems.extend(f"acceptance.criteria: {p}" for p in criteria_problems(cfg.acceptance.criteria))
    ev = cfg.evaluation
    need(ev.bootstrap_resamples >= 100, "evaluation.bootstrap_resamples", ">= 100", ev.bootstrap_resamples)
    need(0.5 <= ev.confidence < 1.0, "evaluation.confidence", "in [0.5, 1)", ev.confidence)
    need(ev.min_group_n >= 1, "evaluation.min_group_n", ">= 1", ev.min_group_n)
    need(ev.period in ("year", "quarter", "month", "days"), "evaluation.period", "one of 'year', 'quarter', 'month', 'days'", ev.period)
    need(ev.period_days >= 1, "evaluation.period_days", ">= 1", ev.period_days)
    need(ev.calibration_bins >= 2, "evaluation.calibration_bins", ">= 2", ev.calibration_bins)
    need(ev.proportion_interval in ("wilson", "clopper_pearson"), "evaluation.proportion_interval",
         "'wilson' or 'clopper_pearson'", ev.proportion_interval)
    need(ev.bootstrap_interval in ("bca", "percentile"), "evaluation.bootstrap_interval", "'bca' or 'percentile'",
         ev.bootstrap_interval)
    if cfg.model.name == "logistic":
        m = cfg.model
        need(len(m.c_grid) >= 1 and all(c > 0 for c in m.c_grid), "model.c_grid", "a non-empty list of C > 0", list(m.c_grid))
        need(m.tol > 0, "model.tol", "> 0", m.tol)
        need(m.max_iter >= 1, "model.max_iter", ">= 1", m.max_iter)
        need(m.dropout == 0, "model.dropout", "0 for model=logistic (a converged fit; use model=linear for a "
             "gradient-trained linear layer with dropout)", m.dropout)
    cv = cfg.cv
    need(cv.folds == 0 or cv.folds >= 2, "cv.folds", "0 (off) or >= 2", cv.folds)
    need(cv.fold is None or 0 <= cv.fold < max(cv.folds, 1), "cv.fold", "null or in [0, cv.folds)", cv.fold)
    need(not (cv.folds and ev.test_look), "evaluation.test_look", "false under cross-validation (folds never look at the test set)", ev.test_look)


def _validate_governance(cfg: DictConfig, need) -> None:
    """Split strategy, leakage, EDA and rebalancing settings."""
    s, d = cfg.split, cfg.data
    need(s.strategy in STRATEGIES, "split.strategy", f"one of {STRATEGIES}", s.strategy)
    if s.strategy == "grouped":
        need(bool(d.subject_column), "data.subject_column", "the subject/patient id column for split.strategy=grouped",
             d.subject_column)
    if s.strategy == "temporal":
        need(bool(d.time_column), "data.time_column", "the date column for split.strategy=temporal", d.time_column)
        need((s.train_end is None) == (s.val_end is None), "split.train_end and split.val_end", "both set or both null",
             [s.train_end, s.val_end])
        if s.train_end and s.val_end:
            need(str(s.train_end) < str(s.val_end), "split.train_end", "earlier than split.val_end", s.train_end)
    if s.strategy == "external":
        need(bool(s.test_path), "split.test_path", "the external test file for split.strategy=external", s.test_path)
    l = cfg.leakage
    need(0.5 < l.predictive_warn <= l.predictive_fail <= 1.0, "leakage.predictive_warn/predictive_fail",
         "0.5 < warn <= fail <= 1", [l.predictive_warn, l.predictive_fail])
    need(0.0 < l.identifier_unique <= 1.0, "leakage.identifier_unique", "in (0, 1]", l.identifier_unique)
    need(l.examples >= 0, "leakage.examples", ">= 0", l.examples)
    need(0.0 < l.coincidence_alpha < 1.0, "leakage.coincidence_alpha", "in (0, 1)", l.coincidence_alpha)
    need(l.min_level_n >= 1, "leakage.min_level_n", ">= 1", l.min_level_n)
    need(0.5 < l.level_purity <= 1.0, "leakage.level_purity", "in (0.5, 1]", l.level_purity)
    need(l.probe_rows >= 100, "leakage.probe_rows", ">= 100", l.probe_rows)
    need(0.0 <= l.probe_margin < 0.5, "leakage.probe_margin", "in [0, 0.5)", l.probe_margin)
    warn_checks = ("follow_up_names", "multivariate_probe", "subject_id_columns", "single_feature", "target_copy",
                   "time_overlap")
    for name in l.fail_on:
        need(name in warn_checks, "leakage.fail_on", f"names among {list(warn_checks)}", name)
    for name, reason in l.accept.items():
        need(reason is None or bool(str(reason).strip()), f"leakage.accept.{name}", "a non-empty reason", reason)
    need(d.time_unit in (None, "day", "week", "month", "year"), "data.time_unit", "null, day, week, month or year",
         d.time_unit)
    need((d.time_unit is None) == (d.time_origin is None), "data.time_unit and data.time_origin",
         "both set (a count of units since a date) or both null", [d.time_unit, d.time_origin])
    need(0.0 <= cfg.eda.tolerance < 1.0, "eda.tolerance", "in [0, 1)", cfg.eda.tolerance)
    for col, shares in cfg.eda.reference.items():
        need(all(0 <= v <= 1 for v in shares.values()), f"eda.reference.{col}", "shares in [0, 1]", dict(shares))
    b = cfg.balance
    need(b.class_weights in ("none", "balanced"), "balance.class_weights", "'none' or 'balanced'", b.class_weights)
    need(b.oversample in ("none", "balanced"), "balance.oversample", "'none' or 'balanced'", b.oversample)
    need(b.augmentation in ("none", "gaussian_noise"), "balance.augmentation", "'none' or 'gaussian_noise'", b.augmentation)
    need(b.noise_std > 0, "balance.noise_std", "> 0", b.noise_std)
    need(math.isfinite(b.mixup_alpha) and b.mixup_alpha >= 0, "balance.mixup_alpha",
         "0 (off) or a Beta concentration > 0 (usual: 0.1 to 0.4)", b.mixup_alpha)
    for col, factors in b.oversample_subgroups.items():
        need(col in d.subgroup_columns, f"balance.oversample_subgroups.{col}",
             f"a column named in data.subgroup_columns {list(d.subgroup_columns)}", col)
        for value, factor in factors.items():
            need(factor >= 1, f"balance.oversample_subgroups.{col}.{value}", "a factor >= 1", factor)


def _validate_deploy(cfg: DictConfig, need) -> None:
    sp = cfg.spec
    need(sp.range_margin >= 0, "spec.range_margin", ">= 0", sp.range_margin)
    need(sp.missing in ("observed", "allow", "refuse"), "spec.missing", "one of 'observed', 'allow', 'refuse'", sp.missing)
    need(sp.sha256 is None or sp.path is not None, "spec.sha256", "set only with spec.path", sp.sha256)
    for col, lim in sp.limits.items():
        need(len(lim) == 2 and lim[0] <= lim[1], f"spec.limits.{col}", "[low, high] with low <= high", list(lim))
    m = cfg.monitoring
    need(m.psi_threshold > 0, "monitoring.psi_threshold", "> 0", m.psi_threshold)
    need(0 < m.pvalue < 1, "monitoring.pvalue", "in (0, 1)", m.pvalue)
    need(0 <= m.min_effect <= 1, "monitoring.min_effect", "in [0, 1]", m.min_effect)
    need(0 < m.missingness_change <= 1, "monitoring.missingness_change", "in (0, 1]", m.missingness_change)
    need(m.bins >= 2, "monitoring.bins", ">= 2", m.bins)
    need(m.min_mcc is None or -1 <= m.min_mcc <= 1, "monitoring.min_mcc", "in [-1, 1] or null", m.min_mcc)
    for c, v in m.min_sensitivity.items():
        need(0 <= v <= 1, f"monitoring.min_sensitivity.{c}", "in [0, 1]", v)
    need(m.alarm_on in ("estimate", "upper_bound"), "monitoring.alarm_on", "'estimate' or 'upper_bound'", m.alarm_on)
    need(0.5 <= m.ci_level < 1, "monitoring.ci_level", "in [0.5, 1)", m.ci_level)
    need(m.bootstrap >= 100, "monitoring.bootstrap", ">= 100", m.bootstrap)
    need(m.window in (None, "D", "W", "M", "Q", "Y"), "monitoring.window", "one of D, W, M, Q, Y or null", m.window)
    need(m.min_window_rows >= 1, "monitoring.min_window_rows", ">= 1", m.min_window_rows)
    for key in ("on_drift", "on_degradation"):
        need(m[key] in ("warn", "block"), f"monitoring.{key}", "'warn' or 'block'", m[key])
