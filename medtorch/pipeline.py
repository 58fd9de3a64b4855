"""One training run, top to bottom: the list of steps below, in order.

Every step has one shape, ``step(cfg, run, state) -> state`` (medtorch.steps): it writes its
artefacts through the ``Run`` (atomic write, hash, manifest entry and event in one call) and
hands what the next steps need on in the ``State``. Each lives in its lifecycle package. The
test split is made and sealed (its row hash recorded) here, but not evaluated: looking at it
is a governed act of its own (``evaluation.test_look`` at the end, or ``medtorch evaluate``).

Under DDP every rank runs this same list; ranks other than 0 run only the steps marked
``EVERY_RANK`` (what training needs) with a ``Run`` that writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from medtorch.background import abandon_all
from medtorch.config import validate
from medtorch.data import steps as data
from medtorch.deploy import record as deploy
from medtorch.distributed import is_rank_zero
from medtorch.errors import MedtorchError
from medtorch.evaluation import training_steps as evaluation
from medtorch.evidence import Run
from medtorch.explain import steps as explain
from medtorch.lifecycle import finish, record_launch, resume, start
from medtorch.progress import Steps
from medtorch.registry import steps as registry
from medtorch.resume import completed_before_requeue, completed_without_report, fault_point, resolve_ckpt_path, under_scheduler
from medtorch.run import RunDir, read_json
from medtorch.smoke import mark_not_evidence
from medtorch.stack import steps as stack
from medtorch.steps import EVERY_RANK, RANK_ZERO, State, Step, run_steps
from medtorch import training

STEPS: tuple[Step, ...] = (
    Step("mark a smoke run not evidence", mark_not_evidence, RANK_ZERO),
    Step("seed and fix the numerics", training.determinism_step, EVERY_RANK),
    Step("freeze the acceptance criteria", evaluation.freeze_acceptance, RANK_ZERO),
    Step("load the data", data.load, EVERY_RANK),
    Step("fingerprint the development", evaluation.record_development, RANK_ZERO),
    Step("split early, fit preprocessing on train", data.split_and_fit, EVERY_RANK),
    # in a forked process beside the data steps where that is safe (medtorch.background)
    Step("start the transparent baselines", explain.start_transparent, RANK_ZERO),
    Step("seal the test split", evaluation.seal_test, RANK_ZERO),
    Step("bind the test-set registry", registry.bind_registry, RANK_ZERO),
    Step("check for leakage", data.check_leakage, RANK_ZERO),
    Step("plan rebalancing", data.plan_rebalancing, EVERY_RANK),
    Step("record the lineage", data.record_lineage, RANK_ZERO),
    Step("explore the data", data.explore, RANK_ZERO),
    Step("specify the data", deploy.specify_data, RANK_ZERO),
    # the transparent baselines yield the cores to training (idle priority) until the explanations want them
    Step("let training have the cores", explain.pause_transparent, RANK_ZERO),
    Step("train", training.train_step, EVERY_RANK, progress="pause"),  # Lightning draws its own progress bar
    Step("restore and export the best epoch", training.export_step, RANK_ZERO,
         progress="restoring the best epoch, recording the monitoring reference"),
    # in a forked process beside the next four steps where that is safe (medtorch.background)
    Step("start the explanations", explain.start_explaining, RANK_ZERO),
    Step("record the monitoring reference", deploy.record_monitoring_reference, RANK_ZERO),
    Step("evaluate on validation", evaluation.evaluate_validation, RANK_ZERO,
         progress="evaluating on validation (bootstrap confidence intervals, analyses)"),
    Step("assess validation", evaluation.assess_validation, RANK_ZERO),
    Step("store the bridge reference", stack.store_bridge_reference, RANK_ZERO),
    Step("collect the explanations", explain.collect_explanations, RANK_ZERO, progress="explaining the model"),
)


def run(cfg: DictConfig, run_dir: str | Path, launch: dict[str, str] | None = None, validated: bool = False) -> dict[str, Any]:
    """Train one model as configured; return the validation metrics. Raises MedtorchError on bad input.

    ``launch``: the Hydra launch record (``.hydra/`` file name -> text), written into the run
    directory once it is known to hold no other run's evidence. ``validated``: train.py checked the config
    before importing this module; the Python API (medtorch.train) arrives here unchecked.
    """
    if not validated:
        validate(cfg)
    if cfg.get("task", "classification") == "survival":  # time-to-event: its own story (medtorch/survival)
        from medtorch.survival.pipeline import run as run_survival

        return run_survival(cfg, run_dir, launch)
    if cfg.cv.folds and cfg.cv.fold is None:
        # a requeued cross-validation job continues: complete folds are kept, an interrupted one resumes
        if RunDir(run_dir).events.is_file() and not under_scheduler():
            raise MedtorchError(f"{run_dir}: this directory already holds a cross-validation; a new one would "
                                "overwrite its evidence. Choose a new directory (leave hydra.run.dir unset).")
        record_launch(Path(run_dir), launch)
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
    return _run_rank_zero(cfg, rd, launch, resume_from)


def _run_rank_zero(cfg: DictConfig, rd: RunDir, launch: dict[str, str] | None, resume_from: Path | None) -> dict[str, Any]:
    run, state = resume(cfg, rd.root, resume_from) if resume_from else start(cfg, rd.root, launch)
    progress = Steps(cfg.get("progress"), first="preparing the data: split, leakage checks, exploration")  # on a terminal
    try:
        state = run_steps(cfg, run, state, STEPS, rank_zero=True, progress=progress)
    except BaseException as e:
        progress.end()
        abandon_all()  # explanations still at work write nothing more into a failed run
        explain.discard_unfinished(cfg, run)  # nor is what they had written left behind
        # a signal-driven exit (submitit requeueing on a time limit, Ctrl-C) is an interruption, not a failure
        status = "interrupted" if isinstance(e, (SystemExit, KeyboardInterrupt)) else "failed"
        finish(run, status=status, error=f"{type(e).__name__}: {e}")
        raise
    finish(run, status="complete")
    progress.begin("writing the report")
    _write_report(rd)
    from medtorch.extensions import attach_evidence

    # MLflow runs get the run id, manifest hash and report
    attach_evidence(state.trainer.loggers if state.trainer is not None else [], rd, run.log)
    progress.end()
    metrics = state.metrics
    _print_summary(metrics["val"], rd)
    if cfg.evaluation.test_look:
        metrics["test_look"] = _governed_test_look(rd)
    return metrics


def _run_other_rank(cfg: DictConfig, resume_from: Path | None, root: str | Path | None = None) -> dict[str, Any]:
    """A DDP rank other than 0: the same steps that rank 0 takes with training's inputs, writing no evidence.

    Lightning's own files on this rank (it writes none under DDP, but a scratch directory costs nothing) go
    to a temporary directory that is removed at the end; ``root`` is for the tests."""
    import shutil
    import tempfile

    if cfg.model.name == "logistic":  # fitted by rank 0 alone, without Lightning: nothing for this rank to do
        return {"val": {"mcc": float("nan")}}
    scratch = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="medtorch-rank-"))
    try:
        run_steps(cfg, Run.null(scratch), State(resume_from=resume_from), STEPS, rank_zero=False)
    finally:
        if root is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"val": {"mcc": float("nan")}}


# ------------------------------------------------------------------------------ after the steps
def _write_report(rd: RunDir) -> None:
    from medtorch.report.build import write_report

    fault_point("report")
    write_report(rd.root)


def _governed_test_look(rd: RunDir) -> dict[str, Any]:
    from medtorch.evaluation.governed import governed_test_look, print_evaluation

    evaluation = governed_test_look(rd.root, family_look=True)  # one family look when launched as a multirun
    print_evaluation(evaluation)
    return evaluation


def _cross_validate(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    from medtorch.evaluation.crossval import run_cross_validation

    return run_cross_validation(cfg, Path(run_dir), run)


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
    if rd.report_pdf.is_file():
        lines.append(f"Report (PDF): {rd.report_pdf}")
    print("\n".join(lines), flush=True)
