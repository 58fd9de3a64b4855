"""One training run, top to bottom.

    load -> early split -> fit preprocessing on train only -> check leakage -> plan rebalancing
    -> record lineage -> explore the data -> train (Lightning) -> restore the best epoch ->
    evaluate on validation -> explain -> store the bridge reference -> write the evidence -> report

Each step is a named function that takes what it needs and writes its artefact into the run
directory through ``RunDir`` (atomically) and one line into the event log. The test split is
made and sealed (its row hash recorded) here, but not evaluated: looking at it is a governed
act of its own.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from medtorch import __version__
from medtorch.audit import EventLog, file_hashes, utc_now
from medtorch.config import to_container, validate
from medtorch.data import governance, sources
from medtorch.data.balance import BalancePlan, plan_balance
from medtorch.data.split import Splits
from medtorch.data.transforms import TabularPreprocessor
from medtorch.distributed import is_rank_zero
from medtorch.errors import MedtorchError
from medtorch.extensions import attach_evidence
from medtorch.evaluation.metrics import classification_metrics
from medtorch.hashing import sha256_json
from medtorch.models.inference import predict_proba
from medtorch.progress import Steps
from medtorch.provenance import device_info, git_info, package_versions
from medtorch.resume import (check_fresh_start, check_same_run, completed_before_requeue, completed_without_report,
                             fault_point, resolve_ckpt_path, under_scheduler)
from medtorch.run import RunDir, read_json, write_json, write_text
from medtorch.smoke import mark_not_evidence
from medtorch.stack import fingerprint
from medtorch.training import export_best, set_determinism, train


@dataclass
class Prepared:
    """The split, the fitted preprocessing, and every split as tensors in model order."""

    splits: Splits
    preprocessor: TabularPreprocessor
    classes: list[str]
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]
    split_record: dict[str, Any] | None = None
    balance: BalancePlan | None = None


def run(cfg: DictConfig, run_dir: str | Path, launch: dict[str, str] | None = None) -> dict[str, Any]:
    """Train one model as configured; return the validation metrics. Raises MedtorchError on bad input.

    ``launch``: the Hydra launch record (``.hydra/`` file name -> text), written into the run
    directory once it is known to hold no other run's evidence.
    """
    if cfg.get("task", "classification") == "survival":  # time-to-event: its own story (medtorch/survival)
        from medtorch.survival.pipeline import run as run_survival

        return run_survival(cfg, run_dir, launch)
    validate(cfg)
    if cfg.cv.folds and cfg.cv.fold is None:
        # a requeued cross-validation job continues: complete folds are kept, an interrupted one resumes
        if (Path(run_dir) / "events.jsonl").is_file() and not under_scheduler():
            raise MedtorchError(f"{run_dir}: this directory already holds a cross-validation; a new one would "
                                "overwrite its evidence. Choose a new directory (leave hydra.run.dir unset).")
        _record_launch(Path(run_dir), launch)
        return _cross_validate(cfg, run_dir)
    rd = RunDir(run_dir)
    if completed_before_requeue(rd) if cfg.ckpt_path is None else completed_without_report(rd):
        missing = not (rd.report_html.is_file() and rd.report_md.is_file())
        print(f"medtorch: {rd.root} completed before this job was interrupted; "
              + ("its missing report is written now." if missing else "nothing to redo."), flush=True)
        if is_rank_zero() and missing:
            _write_report(rd)
        return read_json(rd.metrics)
    resume_from = resolve_ckpt_path(cfg.ckpt_path, rd)
    if not is_rank_zero():
        return _run_other_rank(cfg, resume_from)
    log = EventLog(rd.events)
    manifest = _resume(cfg, rd, log, resume_from) if resume_from else _start(cfg, rd, log, launch)
    mark_not_evidence(cfg, rd, manifest)  # trainer.fast_dev_run: a smoke run's directory says it is not evidence
    steps = Steps(cfg.get("progress"), first="preparing the data: split, leakage checks, exploration")  # on a terminal
    try:
        set_determinism(cfg)
        _freeze_acceptance(cfg, rd, log, manifest)
        raw = _load(cfg, rd, log, manifest)
        _record_development(cfg, rd, log, manifest)
        prepared = _split_and_fit(cfg, raw, rd, log, manifest)
        _seal_test(prepared, rd, log, manifest)
        _bind_registry(cfg, prepared, rd, log, manifest)
        leakage = governance.check_leakage(cfg, prepared.splits, rd, log, prepared.classes)
        prepared.balance = _plan_rebalancing(cfg, prepared, log)
        governance.record_lineage(cfg, raw, prepared.splits, prepared.split_record, prepared.preprocessor.state_dict(),
                                  prepared.balance.record, leakage.status if leakage else None, rd, log)
        governance.explore_data(cfg, prepared.splits, prepared.classes, prepared.balance.record, rd, log)
        spec = _specify_data(cfg, prepared, rd, log, manifest)
        if cfg.model.name == "logistic":  # the transparent baseline: a converged fit, not Lightning's loop
            module, trainer, network = None, None, _fit_logistic(cfg, prepared, rd, log)
        else:
            steps.pause()  # Lightning draws its own progress bar
            module, trainer = train(cfg, prepared, rd, log, resume_from)
            steps.begin("restoring the best epoch, recording the monitoring reference")
            network = export_best(cfg, module, trainer, prepared, rd, log)
        _record_monitoring_reference(cfg, network, prepared, spec, rd, log)
        steps.begin("evaluating on validation (bootstrap confidence intervals, analyses)")
        metrics = _evaluate_validation(cfg, network, module, trainer, prepared, rd, log)
        _assess_validation(cfg, network, prepared, rd, log)
        steps.begin("explaining the model, storing the bridge reference")
        if not cfg.trainer.fast_dev_run:  # a smoke run proves the path; explanations would only cost time
            _explain(cfg, network, prepared, rd, manifest)
        _store_bridge_reference(cfg, network, prepared, rd, log, manifest)
    except BaseException as e:
        steps.end()
        # a signal-driven exit (submitit requeueing on a time limit, Ctrl-C) is an interruption, not a failure
        status = "interrupted" if isinstance(e, (SystemExit, KeyboardInterrupt)) else "failed"
        _finish(rd, log, manifest, status=status, error=f"{type(e).__name__}: {e}")
        raise
    _finish(rd, log, manifest, status="complete")
    steps.begin("writing the report")
    _write_report(rd)
    attach_evidence(trainer.loggers if trainer is not None else [], rd, log)  # MLflow runs get the run id, manifest hash and report
    steps.end()
    _print_summary(metrics["val"], rd)
    if cfg.evaluation.test_look:
        metrics["test_look"] = _governed_test_look(cfg, rd)
    return metrics


def _run_other_rank(cfg: DictConfig, resume_from: Path | None) -> dict[str, Any]:
    """A DDP rank other than 0: same data and preprocessing, takes part in training, writes no evidence."""
    if cfg.model.name == "logistic":  # fitted by rank 0 alone, without Lightning: nothing for this rank to do
        return {"val": {"mcc": float("nan")}}
    import shutil
    import tempfile

    scratch = RunDir(tempfile.mkdtemp(prefix="medtorch-rank-"))
    try:
        set_determinism(cfg)
        manifest: dict[str, Any] = {}
        log = EventLog(scratch.events)
        prepared = _split_and_fit(cfg, _load(cfg, scratch, log, manifest), scratch, log, manifest)
        prepared.balance = _plan_rebalancing(cfg, prepared, log)  # the same oversampling on every rank
        train(cfg, prepared, scratch, log, resume_from)
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
    return {"val": {"mcc": float("nan")}}


# ------------------------------------------------------------------------------ steps
def _config_for_hash(cfg: DictConfig) -> dict[str, Any]:
    config = to_container(cfg)
    config.pop("ckpt_path", None)  # how a run is resumed is not part of what it is
    return config


def _record_launch(root: Path, launch: dict[str, str] | None) -> None:
    for name, text in (launch or {}).items():
        write_text(root / ".hydra" / name, text)


def _start(cfg: DictConfig, rd: RunDir, log: EventLog, launch: dict[str, str] | None = None) -> dict[str, Any]:
    check_fresh_start(rd)
    rd.root.mkdir(parents=True, exist_ok=True)
    _record_launch(rd.root, launch)  # a resumed run keeps its first launch's record
    write_text(rd.config, OmegaConf.to_yaml(cfg, resolve=True))
    manifest = {
        "run_id": uuid.uuid4().hex,
        "status": "running",
        "medtorch_version": __version__,
        "experiment": cfg.experiment,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started_utc": utc_now(),
        "finished_utc": None,
        "git": git_info(),
        "config_sha256": sha256_json(_config_for_hash(cfg)),
        "seed": cfg.seed,
        "packages": package_versions(),
        "device": device_info(cfg.trainer.accelerator),
        "stack": fingerprint.collect(trainer_precision=str(cfg.trainer.precision)),  # replaced once settings apply
    }
    write_json(rd.manifest, manifest)
    log.append("run_started", {"run_id": manifest["run_id"], "experiment": cfg.experiment},
               outputs=file_hashes(rd.root, [rd.config]))
    return manifest


def _resume(cfg: DictConfig, rd: RunDir, log: EventLog, checkpoint: Path) -> dict[str, Any]:
    """Continue an interrupted run in its own directory (see medtorch.resume)."""
    manifest = check_same_run(rd, sha256_json(_config_for_hash(cfg)))
    manifest["status"] = "running"
    manifest.setdefault("resumed", []).append({"time_utc": utc_now(), "from": str(checkpoint.relative_to(rd.root))
                                               if checkpoint.is_relative_to(rd.root) else str(checkpoint),
                                               "git": git_info(), "packages": package_versions(),
                                               "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])})
    manifest["_evidence_before_resume"] = file_hashes(rd.root, [rd.split, rd.preprocessing])
    write_json(rd.manifest, manifest)
    log.append("run_resumed", {"run_id": manifest["run_id"], "checkpoint": manifest["resumed"][-1]["from"]},
               inputs=file_hashes(rd.root, [checkpoint]) if checkpoint.is_relative_to(rd.root) else {})
    return manifest


def _load(cfg: DictConfig, rd: RunDir, log: EventLog, manifest: dict) -> sources.RawTable:
    raw = sources.load(cfg.data)
    manifest["data"] = {**raw.source, "classes": raw.classes, "dropped": raw.dropped}
    write_json(rd.manifest, manifest)
    log.append("data_loaded", {"rows": len(raw.y), "features": raw.frame.shape[1], "classes": raw.classes,
                               "dropped": raw.dropped}, inputs={"data": raw.source["sha256"]})
    return raw


def _split_and_fit(cfg: DictConfig, raw: sources.RawTable, rd: RunDir, log: EventLog, manifest: dict) -> Prepared:
    s = cfg.split
    splits = governance.split_table(cfg, raw)
    if cfg.cv.folds:
        splits = _cv_fold(cfg, splits, rd, manifest)
    record = splits.record(raw.classes)
    record["test_sealed"] = True  # the test rows are fixed and hashed here; they are not evaluated by training
    write_json(rd.split, record)
    manifest["splits"] = {k: v["ids_sha256"] for k, v in record["parts"].items()}
    write_json(rd.manifest, manifest)
    log.append("split_made", {"strategy": s.strategy, "rows": {k: v["rows"] for k, v in record["parts"].items()}},
               outputs=file_hashes(rd.root, [rd.split]))

    prep = TabularPreprocessor().fit(splits.train)
    write_json(rd.preprocessing, prep.state_dict())
    log.append("preprocessing_fitted", {"fitted_on": prep.fitted_on_, "features": len(prep.feature_names_)},
               outputs=file_hashes(rd.root, [rd.preprocessing]))

    before = manifest.pop("_evidence_before_resume", None)
    if before is not None and before != file_hashes(rd.root, [rd.split, rd.preprocessing]):
        raise MedtorchError(
            f"{rd.root}: the split or the fitted preprocessing differs from the interrupted run's "
            "(the data file or the code changed); start a new run instead of resuming this one."
        )
    tensors = {
        name: (torch.from_numpy(prep.transform(part.frame)), torch.from_numpy(part.y))
        for name, part in splits.parts().items()
    }
    return Prepared(splits, prep, raw.classes, tensors, record)


def _plan_rebalancing(cfg: DictConfig, prepared: Prepared, log: EventLog) -> BalancePlan:
    plan = plan_balance(cfg.balance, prepared.splits.train, prepared.classes, len(prepared.preprocessor.numeric_))
    log.append("rebalancing_planned", plan.record)
    return plan


def _specify_data(cfg: DictConfig, prepared: Prepared, rd: RunDir, log: EventLog, manifest: dict):
    """The data specification every later input must meet: derived from train rows, or pre-defined and enforced."""
    from medtorch.deploy.record import record_spec

    return record_spec(cfg, prepared.splits, prepared.preprocessor, rd, log, manifest)


def _record_monitoring_reference(cfg, network, prepared: Prepared, spec, rd: RunDir, log: EventLog) -> None:
    """Training-split distributions (and predicted classes) that monitoring compares new data with."""
    from medtorch.deploy.record import record_reference

    record_reference(cfg, network, prepared.splits, prepared.preprocessor, prepared.classes, spec, rd, log)


def _evaluate_validation(cfg, network, module, trainer, prepared: Prepared, rd: RunDir, log: EventLog) -> dict[str, Any]:
    from medtorch.evaluation.plots import plot_confusion

    xva, yva = prepared.tensors["val"]
    probs = predict_proba(network, xva, cfg.trainer.eval_batch_size)
    y = yva.numpy()
    val = classification_metrics(y, probs, prepared.classes)
    metrics = {
        "val": val,
        "test": None,
        "test_status": "sealed: not evaluated by training",
        "selected_epoch": read_json(rd.model_spec)["selected_by"],
        "epochs_trained": trainer.current_epoch if trainer is not None else None,
        "history": module.history if module is not None else [],
    }
    write_json(rd.metrics, metrics)
    pred = probs.argmax(axis=1)
    classes = np.array(prepared.classes, dtype=object)
    table = pd.DataFrame({"row_id": prepared.splits.val.ids, "true_label": classes[y], "predicted_label": classes[pred]})
    for j, c in enumerate(prepared.classes):
        table[f"prob_{c}"] = probs[:, j]
    write_text(rd.predictions("val"), table.to_csv(index=False, float_format="%.8g"))
    plots = [plot_confusion(val["confusion_matrix"], prepared.classes, rd.confusion_plot("val", normalized), normalized,
                            f"Validation confusion matrix ({'row-normalised' if normalized else 'counts'})")
             for normalized in (False, True)]
    log.append("validation_evaluated", {"n": val["n"], "mcc": val["mcc"], "balanced_accuracy": val["balanced_accuracy"],
                                        "auroc": val["auroc"]},
               inputs=file_hashes(rd.root, [rd.model_weights, rd.preprocessing]),
               outputs=file_hashes(rd.root, [rd.metrics, rd.predictions("val"), *plots]))
    return metrics


def _freeze_acceptance(cfg, rd: RunDir, log: EventLog, manifest: dict) -> None:
    from medtorch.evaluation.training_steps import freeze_acceptance

    freeze_acceptance(cfg, rd, log, manifest)


def _record_development(cfg, rd: RunDir, log: EventLog, manifest: dict) -> None:
    from medtorch.evaluation.training_steps import record_development

    record_development(cfg, rd, log, manifest)


def _seal_test(prepared: Prepared, rd: RunDir, log: EventLog, manifest: dict) -> None:
    from medtorch.evaluation.training_steps import seal_test

    seal_test(prepared.splits, rd, log, manifest)


def _bind_registry(cfg, prepared: Prepared, rd: RunDir, log: EventLog, manifest: dict) -> None:
    """Bind the run to the project's test-set registry and check its rows against every looked-at row."""
    from medtorch.registry.binding import bind_run

    if cfg.trainer.get("fast_dev_run"):  # a smoke run is not evidence: it never touches the registry
        return
    if "registry" not in manifest:  # a resumed run keeps the binding it was trained under
        manifest["registry"] = bind_run(cfg, prepared.splits, prepared.classes, manifest)
        write_json(rd.manifest, manifest)
    log.append("registry_bound", manifest["registry"])


def _cv_fold(cfg, splits: Splits, rd: RunDir, manifest: dict) -> Splits:
    from medtorch.evaluation.crossval import fold_splits

    return fold_splits(cfg, splits, rd, manifest)


def _assess_validation(cfg, network, prepared: Prepared, rd: RunDir, log: EventLog) -> None:
    from medtorch.evaluation.training_steps import assess_validation

    xva, yva = prepared.tensors["val"]
    probs = predict_proba(network, xva, cfg.trainer.eval_batch_size)
    assess_validation(cfg, yva.numpy(), probs, prepared.classes, prepared.splits.val.extra, rd, log)


def _governed_test_look(cfg, rd: RunDir) -> dict[str, Any]:
    from medtorch.evaluation.governed import governed_test_look, print_evaluation

    evaluation = governed_test_look(rd.root, family_look=True)  # one family look when launched as a multirun
    print_evaluation(evaluation)
    return evaluation


def _cross_validate(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    from medtorch.evaluation.crossval import run_cross_validation

    return run_cross_validation(cfg, Path(run_dir), run)


def _store_bridge_reference(cfg, network, prepared: Prepared, rd: RunDir, log: EventLog, manifest: dict) -> None:
    """The validation rows (or bridge.reference_file's) in raw form with the model's probabilities, on this stack."""
    from medtorch.stack import reference

    rows = prepared.splits.val
    if cfg.bridge.reference_file:
        rows = reference.rows_from_file(cfg.bridge.reference_file, cfg.bridge.reference_label or cfg.data.target,
                                        prepared.preprocessor.columns_, prepared.classes,
                                        prepared.preprocessor.categorical_)
    stack = fingerprint.collect(trainer_precision=str(cfg.trainer.precision))
    record = reference.store(rd, rows.name, rows, prepared.preprocessor, network, prepared.classes,
                             cfg.trainer.eval_batch_size, stack)
    manifest["stack"] = stack
    write_json(rd.manifest, manifest)
    log.append("bridge_reference_stored", {"split": rows.name, "rows": record["n"], "stack_hash": stack["hash"]},
               inputs=file_hashes(rd.root, [rd.model_weights, rd.preprocessing]),
               outputs=file_hashes(rd.root, [rd.bridge_reference, rd.bridge_rows]))


def _fit_logistic(cfg, prepared: Prepared, rd: RunDir, log: EventLog):
    from medtorch.models.logistic_run import fit_and_export

    return fit_and_export(cfg, prepared, rd, log)


def _explain(cfg, network, prepared: Prepared, rd: RunDir, manifest: dict) -> None:
    """Attributions, attention maps and sanity checks as configured in ``explain`` (medtorch/explain)."""
    from medtorch.explain.step import explain_after_training

    explain_after_training(cfg, network, prepared, rd, manifest)


def _finish(rd: RunDir, log: EventLog, manifest: dict, status: str, error: str | None = None) -> None:
    manifest["status"] = status
    manifest["finished_utc"] = utc_now()
    if error:
        manifest["error"] = error
    artefacts = [rd.config, rd.split, rd.preprocessing, rd.model_weights, rd.model_spec, rd.metrics, rd.predictions("val"),
                 rd.acceptance, rd.sealed_test, rd.assessment("val"),
                 rd.lineage, rd.lineage_summary, rd.leakage, rd.eda, rd.eda_summary,
                 rd.bridge_reference, rd.bridge_rows,
                 rd.data_spec, rd.monitoring_reference, rd.explanation,
                 *rd.checkpoint_files, rd.training_log, *rd.hydra_files]
    manifest["artefacts"] = file_hashes(rd.root, artefacts)
    write_json(rd.manifest, manifest)
    log.append("run_" + status, {"error": error} if error else {}, outputs=file_hashes(rd.root, [rd.manifest]))


def _write_report(rd: RunDir) -> None:
    from medtorch.report.build import write_report

    fault_point("report")
    write_report(rd.root)


def _print_summary(val: dict[str, Any], rd: RunDir) -> None:
    def f(v):
        return "  n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"

    lines = [
        "",
        f"Validation (n={val['n']}):  MCC {f(val['mcc'])}   balanced accuracy {f(val['balanced_accuracy'])}   AUROC {f(val['auroc'])}",
        f"{'class':<20}{'support':>8}{'sens':>8}{'spec':>8}{'prec':>8}{'NPV':>8}{'F1':>8}",
    ]
    for name, m in val["per_class"].items():
        lines.append(f"{name[:19]:<20}{m['support']:>8}{f(m['sensitivity']):>8}{f(m['specificity']):>8}"
                     f"{f(m['precision']):>8}{f(m['npv']):>8}{f(m['f1']):>8}")
    lines.append(f"Run directory: {rd.root}")
    lines.append(f"Report: {rd.report_html}")
    if (rd.root / "report.pdf").is_file():
        lines.append(f"Report (PDF): {rd.root / 'report.pdf'}")
    print("\n".join(lines), flush=True)
