"""The governed look at the sealed test split of a task=survival run (``medtorch evaluate RUN`` and
``train.py evaluation.test_look=true``), under the same test-set registry as classification.

    verify the run -> reload the data and recover the sealed test rows (data and row hashes checked)
    -> risk scores of the network and of the Cox PH baseline -> the survival assessment with intervals,
    using what was fixed before the look (the training split's Breslow baseline and censoring
    distribution, the validation thresholds) -> judge the active acceptance criteria -> decide the
    test set's role from the test-set registry -> write the evaluation, append the registry and the event log

A new test file (``--test-data``) replaces the sealed rows (``medtorch.survival.new_test``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import artefact
from medtorch.audit import EventLog, utc_now
from medtorch.errors import IntegrityError
from medtorch.evidence import Run
from medtorch.run import RunDir, read_json


def _sealed_rows(rd: RunDir, cfg: dict, manifest: dict):
    from omegaconf import OmegaConf

    from medtorch.evaluation.development import rows_sha256
    from medtorch.survival.data import DURATION, load_survival

    seal = read_json(rd.sealed_test)
    raw = load_survival(OmegaConf.create(cfg["data"]))
    if raw.source["sha256"] != manifest["data"]["sha256"]:
        raise IntegrityError(f"the data ({raw.source.get('path', raw.source.get('name'))}) changed since the run was "
                             "trained; the sealed test rows cannot be recovered from it. Restore the original file.")
    pos = pd.Index(raw.ids).get_indexer(np.asarray(seal["ids"]))
    if (pos < 0).any():
        raise IntegrityError("the run's data no longer holds every sealed test row; restore the original file.")
    frame, y, ids = raw.frame.iloc[pos].reset_index(drop=True), raw.y[pos], raw.ids[pos]
    digest = rows_sha256(frame, y, ids)
    if digest != seal["rows_sha256"]:
        raise IntegrityError(f"the sealed test rows hash to {digest[:16]}... but were sealed as {seal['rows_sha256'][:16]}...")
    extra = raw.extra.iloc[pos].reset_index(drop=True)
    return frame, y, ids, extra[DURATION].to_numpy(float), extra, digest


def survival_test_look(run_dir: str | Path, registry: str | None = None, test_data: str | None = None,
                       acceptance_file: str | None = None) -> dict[str, Any]:
    from medtorch.evaluation import acceptance as A
    from medtorch.evaluation.amendments import active_criteria
    from medtorch.locking import exclusive
    from medtorch.registry import binding
    from medtorch.registry.roles import SECOND_STAGE, decide_role
    from medtorch.registry.store import Head
    from medtorch.integrity import require_intact
    from medtorch.survival.acceptance import observed_quantities
    from medtorch.survival.assessment import assess
    from medtorch.survival.baseline import BreslowBaseline
    from medtorch.survival.km import StepFunction
    from medtorch.survival.horizons import NEW_DATA_FIX, TEST_SPLIT_FIX, horizons_in_duration_unit, require_follow_up
    from medtorch.survival.plots import plot_assessment
    from medtorch.survival.predict import load_survival_model
    from medtorch.models.inference import eval_batch_size, infer

    rd = RunDir(Path(run_dir)).require()
    require_intact(rd.root)
    manifest = read_json(rd.manifest)
    weights = artefact("model_weights").relative()
    network, prep, baseline, cfg_d = load_survival_model(rd)
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(cfg_d)
    log = EventLog(rd.events)
    log.verify_chain()
    # the rows first: test data that is refused (specification, independence, follow-up) leaves no amendment recorded
    if test_data is None:
        frame, y, ids, time, extra, digest = _sealed_rows(rd, cfg_d, manifest)
        require_follow_up(cfg, {"test split": time}, fix=TEST_SPLIT_FIX)
    else:  # new test data: checked against the data specification, refused when not independent
        from medtorch.survival.new_test import new_survival_rows

        frame, y, ids, time, extra, digest = new_survival_rows(rd, cfg_d, manifest, test_data)
        require_follow_up(cfg, {f"new test data {test_data}": time}, fix=NEW_DATA_FIX)
    criteria_record, changed_after_look = active_criteria(rd, log, acceptance_file)
    criteria = A.check_record(criteria_record, str(rd.acceptance))
    fixed = read_json(rd.survival("censoring"))
    censoring = StepFunction(np.asarray(fixed["times"]), np.asarray(fixed["values"]))
    metrics = read_json(rd.metrics)
    hd = horizons_in_duration_unit(cfg)
    ev = cfg.evaluation
    hi = min(max(hd), float(time.max()) * 0.999)
    grid = np.linspace(fixed["first_event_time"], hi, cfg.survival.brier_points)
    groups = extra[cfg.data.subject_column].to_numpy() if cfg.data.subject_column else None
    x = prep.transform(frame)
    eta = infer(network, x, eval_batch_size(cfg_d), output="risk")
    kw = dict(resamples=ev.bootstrap_resamples, confidence=ev.confidence, seed=cfg.seed, groups=groups,
              bins=ev.calibration_bins)
    test = assess(time, y, eta, baseline, censoring, list(ev.horizons), hd, metrics["thresholds"]["values"], grid, **kw)
    cox = None
    if rd.survival("cox_baseline").is_file():
        c = read_json(rd.survival("cox_baseline"))
        beta = np.array([c["coefficients"][n] for n in prep.feature_names_])
        cox = assess(time, y, x.astype(float) @ beta, BreslowBaseline(**c["baseline_hazard"]), censoring,
                     list(ev.horizons), hd, c["thresholds"], grid, **kw)
    results = A.judge(criteria, observed_quantities(test, ev.horizon_unit))
    opened = binding.open_for_run(manifest, registry)  # fails early on a bad URL or a missing driver
    bound = manifest.get("registry") or {}
    with exclusive(rd.test_evaluations), opened.registry.transaction() as tx:  # one look at a time on this run
        head, entries = tx.verify()
        events = log.records()
        binding.check_continuity(opened, head, entries, manifest, events)
        prior = [e for e in entries if e["kind"] in binding.LOOK_KINDS and e["test_set"] == digest]
        role = decide_role(prior, manifest["development"], None, bound.get("development_saw"), digest)
        number = len([e for e in events if e["action"] == "test_evaluated"]) + 1
        folder = rd.test_evaluation(number)
        if folder.exists():
            raise IntegrityError(f"{folder} already exists but the event log records only {number - 1} test "
                                 "evaluation(s); it was not written by a recorded look. Move it aside and evaluate again.")
        evaluation = {"evaluation": number, "time_utc": utc_now(), "run_id": manifest["run_id"], "task": "survival",
                      "test_set": {"source": "sealed test split" if test_data is None else f"new test data {test_data}", "sha256": digest, "rows": int(len(y))},
                      "role": role["role"], "role_reason": role["reason"], "look_on_test_set": len(prior) + 1,
                      "hold_out_claim": role["role"] != SECOND_STAGE,
                      "registry": {"url": opened.registry.public_url, "source": opened.where.source,
                                   "override": opened.override},
                      "criteria": criteria_record,
                      "criteria_changed_after_test_look": changed_after_look, "acceptance": results,
                      "passed": all(r["passed"] for r in results), "assessment": test, "cox_baseline": cox}
        surv = baseline.survival(eta, hd)
        table = pd.DataFrame({"row_id": ids, "duration": time, "event": y, "risk_score": eta})
        for k, h in enumerate(ev.horizons):
            table[f"survival_at_{h:g}{ev.horizon_unit[0]}"] = surv[:, k]
        folder.mkdir(parents=True, exist_ok=True)
        plots = plot_assessment(test, time, y, eta, baseline, censoring, cfg, folder, "test") if cfg.eda.plots else []
        run = Run.open(rd.root)  # the look's files: written, hashed and entered in the manifest in one call
        outputs = run.record_many({rd.test_evaluation_file(number): evaluation,
                                   rd.test_evaluation_predictions(number): table.to_csv(index=False, float_format="%.8g")},
                                  also=plots)
        summary = {"evaluation": number, "test_set_sha256": digest, "role": role["role"], "passed": evaluation["passed"],
                   "criteria_sha256": criteria_record["sha256"], "criteria_changed_after_test_look": changed_after_look,
                   "cindex": test["overall"]["cindex"], "failed": [r["criterion"] for r in results if not r["passed"]]}
        entry = tx.append("look", {**summary, "task": "survival", "run_id": manifest["run_id"],
                                   "run_dir": str(rd.root.resolve()), "look_on_test_set": len(prior) + 1,
                                   "test_set": evaluation["test_set"], "development": manifest["development"],
                                   "model_sha256": manifest["artefacts"][weights], "role_reason": role["reason"],
                                   "family": None, "outputs": {f"{rd.root.name}/{k}": v for k, v in outputs.items()}},
                          run_id=manifest["run_id"], test_set=digest)
        seen = Head(head.registry_id, entry["seq"], entry["hash"])
        run.event("test_evaluated", {**summary, "registry": {**evaluation["registry"], "head": seen.to_dict()}},
                  inputs={weights: manifest["artefacts"][weights], "test_set": digest}, outputs=outputs)
    evaluation["folder"] = str(folder)
    return evaluation


def print_survival_evaluation(ev: dict[str, Any]) -> None:
    from medtorch.survival.report import _f

    a = ev["assessment"]
    lines = ["", f"Test evaluation {ev['evaluation']} on the {ev['test_set']['source']} ({ev['test_set']['rows']} rows, "
                 f"{a['events']} events, sha256 {ev['test_set']['sha256'][:12]}...)",
             f"Role of this data: {ev['role'].upper()} (look {ev['look_on_test_set']} on it: {ev['role_reason']})",
             f"  Harrell's C {_f(a['overall']['cindex'])}   Uno's C {_f(a['overall']['uno_cindex'])}   "
             f"IBS {_f(a['overall']['ibs'])}"]
    for h in a["horizons"]:
        lines.append(f"  at {h['horizon']:g} ({h['horizon_duration']:g} in the duration unit): td-AUC {_f(h['td_auc'])}   MCC {_f(h['confusion']['ci']['mcc'])}")
    if ev.get("cox_baseline"):
        lines.append(f"  Cox PH baseline: Harrell's C {_f(ev['cox_baseline']['overall']['cindex'])}")
    for r in ev["acceptance"]:
        obs = "not observable" if r["observed"] is None else f"observed {r['observed']:.3f}"
        lines.append(f"  {'PASS' if r['passed'] else 'FAIL'}  {r['criterion']:<36} {obs}")
    if ev["acceptance"]:
        lines.append("ACCEPTED: every criterion passed." if ev["passed"] else "NOT ACCEPTED: a criterion failed.")
    lines.append(f"Written to {ev['folder']}")
    print("\n".join(lines), flush=True)
