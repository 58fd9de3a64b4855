"""One ``task=survival`` training run, top to bottom, in the same run directory layout as classification:

    load (durations, events) -> early split stratified on the event -> fit preprocessing on train ->
    survival leakage checks -> survival EDA -> train (Cox partial likelihood, Lightning) -> restore the
    best epoch -> Breslow baseline hazard on train -> validation assessment with intervals (thresholds
    at the horizons fixed here) -> Cox PH baseline (lifelines) on the same split -> acceptance judged on
    validation -> plots -> report

The test split is made and sealed (its row hash recorded) but not evaluated; the governed look
(``medtorch evaluate RUN``, or ``evaluation.test_look=true`` at the end) is medtorch/survival/governed.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from medtorch.data import governance
from medtorch.data.prepared import Prepared
from medtorch.data.transforms import TabularPreprocessor
from medtorch.evidence import REPLACE, Run
from medtorch.run import RunDir
from medtorch.survival.data import DURATION, load_survival


def run(cfg: DictConfig, run_dir: str | Path, launch: dict[str, str] | None = None) -> dict[str, Any]:
    from medtorch.evaluation import training_steps as evaluation
    from medtorch.lifecycle import start
    from medtorch.registry.steps import bind_registry
    from medtorch.training import set_determinism

    run, state = start(cfg, run_dir, launch, task="survival")
    rd, log = run.rd, run.log
    try:
        set_determinism(cfg)
        evaluation.freeze_acceptance(cfg, run, state)
        raw = _load(cfg, run)
        evaluation.record_development(cfg, run, state)
        splits, prep, tensors = _split_and_fit(cfg, raw, run)
        state.prepared = Prepared(splits, prep, raw.classes, tensors)
        evaluation.seal_test(cfg, run, state)
        bind_registry(cfg, run, state)
        spec = _specify_data(cfg, splits, prep, run)
        leakage = _check_leakage(cfg, splits, run)
        _record_lineage(cfg, raw, splits, prep, leakage, run)
        _explore(cfg, splits, run)
        from medtorch.models.inference import infer
        from medtorch.survival.training import export_best, train

        module, trainer = train(cfg, tensors, rd, log)
        network = export_best(cfg, module, trainer, int(tensors["train"][0].shape[1]), prep, run)
        eta = {name: infer(network, tensors[name][0], cfg.trainer.eval_batch_size, output="risk") for name in ("train", "val")}
        metrics = _evaluate(cfg, splits, eta, module, trainer, run)
        from medtorch.survival.monitor import record_reference

        record_reference(cfg, splits, spec, eta["train"], metrics["val"]["overall"]["cindex"]["estimate"], run)
        from medtorch.survival.bridge import store_reference

        store_reference(cfg, splits, eta["val"], run)
        _cox_baseline(cfg, splits, prep, metrics, run)
        _explain(cfg, network, tensors, prep, run)
        _judge_acceptance(cfg, metrics, run)
    except BaseException as e:
        status = "interrupted" if isinstance(e, (SystemExit, KeyboardInterrupt)) else "failed"
        _finish(run, status, f"{type(e).__name__}: {e}")
        raise
    _finish(run, "complete")
    from medtorch.survival.report import write_report

    write_report(rd.root)
    _print_summary(metrics, rd)
    if cfg.evaluation.test_look:
        from medtorch.survival.governed import print_survival_evaluation, survival_test_look

        metrics["test_look"] = survival_test_look(rd.root)
        print_survival_evaluation(metrics["test_look"])
    return metrics


def _load(cfg, run: Run):
    raw = load_survival(cfg.data)
    run.update_manifest(data={**raw.source, "classes": raw.classes, "dropped": raw.dropped})
    run.event("data_loaded", {"rows": len(raw.y), "features": raw.frame.shape[1], "events": int(raw.y.sum()),
                              "duration_unit": cfg.data.duration_unit}, inputs={"data": raw.source["sha256"]})
    return raw


def _split_and_fit(cfg, raw, run: Run):
    rd = run.rd
    from medtorch.survival.horizons import require_follow_up

    splits = governance.split_table(cfg, raw)  # stratified on the event indicator (grouped by subject where set)
    # before anything is fitted: a horizon no split can score is refused now, not after training (the test
    # split too: a run whose sealed test split cannot be scored at its horizons could never have a test look)
    require_follow_up(cfg, {f"{name} split": part.extra[DURATION].to_numpy(float) for name, part in splits.parts().items()})
    record = splits.record(["censored", "event"])
    record["stratified_on"] = "event indicator" + (" and subjects" if cfg.data.subject_column else "")
    record["test_sealed"] = True
    for name, part in splits.parts().items():
        record["parts"][name]["events"] = int(part.y.sum())
    outputs = run.record(rd.split, record)
    run.update_manifest(splits={k: v["ids_sha256"] for k, v in record["parts"].items()})
    run.event("split_made", {"strategy": cfg.split.strategy, "rows": {k: v["rows"] for k, v in record["parts"].items()},
                             "events": {k: v["events"] for k, v in record["parts"].items()}}, outputs=outputs)
    prep = TabularPreprocessor().fit(splits.train)
    run.record(rd.preprocessing, prep.state_dict(), event="preprocessing_fitted",
               details={"fitted_on": prep.fitted_on_, "features": len(prep.feature_names_)})
    tensors = {}
    for name, part in splits.parts().items():
        y = np.stack([part.extra[DURATION].to_numpy(float), part.y.astype(float)], axis=1)
        tensors[name] = (torch.from_numpy(prep.transform(part.frame)), torch.from_numpy(y.astype(np.float32)))
    return splits, prep, tensors


def _specify_data(cfg, splits, prep, run: Run):
    """The data specification later inputs must meet (medtorch predict); the duration and event columns are
    known columns of the data, accepted in inputs and never features."""
    from omegaconf import OmegaConf

    from medtorch.deploy.record import record_spec

    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    plain.data.target = cfg.data.event_column
    plain.data.drop = [*cfg.data.drop, cfg.data.duration_column]
    return record_spec(plain, splits, prep, run)


def _check_leakage(cfg, splits, run: Run):
    from medtorch.survival.leakage import check_survival_leakage

    return check_survival_leakage(cfg, splits, run)


def _record_lineage(cfg, raw, splits, prep, leakage, run: Run) -> None:
    """Lineage and its summary as for classification; the event column is the label, the duration a dropped column."""
    from omegaconf import OmegaConf

    from medtorch.data.lineage import build_lineage, lineage_markdown

    data = OmegaConf.create(OmegaConf.to_container(cfg.data, resolve=True))
    data.target, data.drop = cfg.data.event_column, [*cfg.data.drop, cfg.data.duration_column]
    rd = run.rd
    lineage = build_lineage(data, raw.source, raw.dropped, run.read_json(rd.split), prep.state_dict(),
                            {"status": "none (task=survival trains on every training row as drawn)"},
                            leakage.status if leakage else None)
    run.record_many({rd.lineage: lineage, rd.lineage_summary: lineage_markdown(lineage)}, event="lineage_recorded",
                    details={"steps": [s["step"] for s in lineage["steps"]]})


def _explore(cfg, splits, run: Run) -> None:
    from medtorch.survival.eda import explore_survival

    explore_survival(cfg, splits, run)


def _evaluate(cfg, splits, eta: dict, module, trainer, run: Run) -> dict[str, Any]:
    from medtorch.survival.evaluate import evaluate_validation

    return evaluate_validation(cfg, splits, eta, module, trainer, run)


def _cox_baseline(cfg, splits, prep, metrics: dict, run: Run) -> None:
    if not cfg.survival.cox_baseline:
        run.event("cox_baseline", {"status": "disabled"})
        return
    from medtorch.survival.cox_baseline import fit_cox_baseline

    fit_cox_baseline(cfg, splits, prep, metrics, run)


def _explain(cfg, network, tensors: dict, prep, run: Run) -> None:
    from medtorch.survival.explain import explain_risk

    explain_risk(cfg, network, tensors["val"][0], tensors["train"][0], prep, run)


def _judge_acceptance(cfg, metrics: dict, run: Run) -> None:
    from medtorch.evaluation.acceptance import check_record, judge
    from medtorch.survival.acceptance import observed_quantities

    rd = run.rd
    criteria = check_record(run.read_json(rd.acceptance), str(rd.acceptance))
    if not criteria:
        return
    results = judge(criteria, observed_quantities(metrics["val"], cfg.evaluation.horizon_unit))
    metrics["val_acceptance"] = {"judged_on": "validation (not a test-set claim: the test split stays sealed)",
                                 "results": results, "passed": all(r["passed"] for r in results)}
    # the metrics record gains the judgement in place: the validation step wrote it moments ago, in this run
    run.record(rd.metrics, metrics, kind=REPLACE, event="acceptance_judged_on_validation",
               details={"passed": metrics["val_acceptance"]["passed"],
                        "results": [[r["criterion"], r["passed"]] for r in results]})


def artefacts(rd: RunDir) -> tuple[list[Path], list[Path]]:
    """(written by every complete survival run, written when their step is enabled)."""
    extra = sorted(p for p in rd.root.glob("survival/**/*") if p.is_file())
    required = [rd.config, rd.split, rd.preprocessing, rd.model_weights, rd.model_spec, rd.metrics, rd.predictions("val"),
                rd.acceptance, rd.sealed_test, rd.data_spec, rd.lineage, rd.lineage_summary, *extra]
    return required, [rd.leakage, *rd.checkpoint_files, rd.training_log, *rd.hydra_files]


def _finish(run: Run, status: str, error: str | None = None) -> None:
    required, optional = artefacts(run.rd)
    run.finish(status, error, required=required, optional=optional)


def _print_summary(metrics: dict[str, Any], rd: RunDir) -> None:
    v = metrics["val"]

    def f(ci):
        return "n/a" if ci["estimate"] is None else (f"{ci['estimate']:.3f} [{ci['lower']:.3f}, {ci['upper']:.3f}]"
                                                     if ci["lower"] is not None else f"{ci['estimate']:.3f}")

    lines = ["", f"Validation (n={v['n']}, events={v['events']}):  Harrell's C {f(v['overall']['cindex'])}   "
             f"Uno's C {f(v['overall']['uno_cindex'])}   IBS {f(v['overall']['ibs'])}"]
    for h in v["horizons"]:
        lines.append(f"  at {h['horizon']:g} {metrics['horizon_unit']}{'' if h['horizon'] == 1 else 's'}: td-AUC {f(h['td_auc'])}   "
                     f"MCC {f(h['confusion']['ci']['mcc'])}")
    if metrics.get("cox_baseline"):
        c = metrics["cox_baseline"]["val"]["overall"]["cindex"]
        lines.append(f"Cox PH baseline (lifelines), same split: Harrell's C {f(c)}")
    lines.append(f"Run directory: {rd.root}")
    print("\n".join(lines), flush=True)
