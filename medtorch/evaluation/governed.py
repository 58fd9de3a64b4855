"""The governed look at a test set: one recorded evaluation of a finished run.

    load the run (hashes verified) -> recover the sealed test rows, or read a new test file
    and refuse it if it overlaps the development data -> predict -> assess with CIs ->
    judge the active acceptance criteria -> decide the test set's role from the ledger ->
    write the evaluation, append the ledger and the run's event log

Used by ``medtorch evaluate`` and by ``train.py evaluation.test_look=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.audit import EventLog, file_hashes, utc_now
from medtorch.errors import MedtorchError
from medtorch.evaluation import acceptance as A
from medtorch.evaluation.assessment import assess, summary_lines, write_plots
from medtorch.evaluation.ledger import SECOND_STAGE, TestLedger, decide_role
from medtorch.evaluation.test_rows import new_test_rows, sealed_test_rows
from medtorch.hashing import sha256_file
from medtorch.run import read_json, write_json, write_text

EXIT_CRITERIA_FAILED = 1


def governed_test_look(run_dir: str | Path, test_data: str | None = None, ledger_path: str | Path = "test_ledger.jsonl",
                       acceptance_file: str | None = None, load_options: dict | None = None) -> dict[str, Any]:
    """Evaluate a run on its sealed test set (or on ``test_data``) once, and record it everywhere."""
    from medtorch.loading import load_run, verify_artefact
    from medtorch.models.inference import predict_proba

    run = load_run(run_dir, purpose="evaluate", **(load_options or {}))
    rd, manifest, cfg = run.rd, run.manifest, run.config
    if manifest.get("cv"):
        raise MedtorchError(f"{rd.root} is cross-validation fold {manifest['cv']['fold']}; folds are never evaluated on the "
                            "test set. Train the final model on the development data (without cv.folds) and evaluate that run.")
    from medtorch.smoke import refuse_if_not_evidence

    refuse_if_not_evidence(rd.root, manifest, "a governed look at the test set")
    if "development" not in manifest or "sealed_test.json" not in manifest.get("artefacts", {}):
        raise MedtorchError(f"{rd.root} was trained by a medtorch version without a sealed test set and a development "
                            "fingerprint, so a governed look cannot be recorded for it; retrain it with this version.")
    for path in (rd.sealed_test, rd.acceptance):
        verify_artefact(rd, path, manifest)
    log = EventLog(rd.events)
    log.verify_chain()
    criteria_record, changed_after_look = active_criteria(rd, log, acceptance_file)
    criteria = A.check_record(criteria_record, str(rd.acceptance))

    rows = sealed_test_rows(run, read_json(rd.sealed_test)) if test_data is None else new_test_rows(run, read_json(rd.sealed_test), test_data)
    probs = predict_proba(run.network, run.preprocessor.transform(rows.frame))
    assessment = assess(rows.y, probs, run.classes, rows.extra, cfg["data"], cfg["evaluation"], int(cfg["seed"]))
    results = A.judge(criteria, A.observed_quantities(assessment))

    ledger = TestLedger(ledger_path)
    with ledger.locked():  # from reading the earlier looks to recording this one
        prior = ledger.looks(rows.sha256)
        role = decide_role(prior, manifest["development"])
        number = len([e for e in log.records() if e["action"] == "test_evaluated"]) + 1
        folder = rd.test_evaluation(number)
        evaluation = {
            "evaluation": number, "time_utc": utc_now(), "run_id": manifest["run_id"],
            "test_set": {"source": rows.source, "sha256": rows.sha256, "rows": len(rows.y)},
            "role": role["role"], "role_reason": role["reason"], "look_on_test_set": len(prior) + 1,
            "hold_out_claim": role["role"] != SECOND_STAGE,
            "criteria": criteria_record, "criteria_changed_after_test_look": changed_after_look,
            "acceptance": results, "passed": all(r["passed"] for r in results),
            "assessment": assessment,
        }
        write_json(folder / "evaluation.json", evaluation)
        table = pd.DataFrame({"row_id": rows.ids, "true_label": np.asarray(run.classes, dtype=object)[rows.y],
                              "predicted_label": np.asarray(run.classes, dtype=object)[probs.argmax(axis=1)]})
        for j, c in enumerate(run.classes):
            table[f"prob_{c}"] = probs[:, j]
        write_text(folder / "predictions.csv", table.to_csv(index=False, float_format="%.8g"))
        plots = write_plots(assessment, run.classes, lambda name: folder / f"{name}.png", f"Test evaluation {number}")
        outputs = file_hashes(rd.root, [folder / "evaluation.json", folder / "predictions.csv", *plots])
        summary = {"evaluation": number, "test_set_sha256": rows.sha256, "role": role["role"], "passed": evaluation["passed"],
                   "criteria_sha256": criteria_record["sha256"], "criteria_changed_after_test_look": changed_after_look,
                   "mcc": assessment["ci"]["mcc"], "failed": [r["criterion"] for r in results if not r["passed"]]}
        ledger.record({**summary, "run_id": manifest["run_id"], "run_dir": str(rd.root.resolve()), "look_on_test_set": len(prior) + 1,
                       "test_set": evaluation["test_set"], "development": manifest["development"],
                       "model_sha256": manifest["artefacts"]["model.pt"], "role_reason": role["reason"]},
                      inputs={"model.pt": manifest["artefacts"]["model.pt"], "test_set": rows.sha256},
                      outputs={f"{rd.root.name}/{k}": v for k, v in outputs.items()})
        log.append("test_evaluated", {**summary, "ledger": str(Path(ledger_path).resolve())},
                   inputs={"model.pt": manifest["artefacts"]["model.pt"], "test_set": rows.sha256,
                           "ledger": sha256_file(ledger.path)}, outputs=outputs)
    _extend_bridge_set(run, rows, "test" if test_data is None else f"test_look_{number}")
    evaluation["folder"] = str(folder)
    return evaluation


def _extend_bridge_set(run, rows, name: str) -> None:
    """Once test rows have been evaluated they join the bridge set, so later stacks are checked on them too."""
    from medtorch.stack.reference import add_rows

    if not run.rd.bridge_added(name, "json").exists():
        add_rows(run, name, rows)


def active_criteria(rd, log: EventLog, acceptance_file: str | None) -> tuple[dict[str, Any], bool]:
    """The criteria in force (frozen, or the latest amendment), and whether any changed after a test look.

    ``acceptance_file`` (a YAML file with ``name`` and ``criteria``) amends the criteria; an
    amendment made after a test look of this run marks the run in every later output.
    """
    events = log.records()
    amendments = sorted((rd.root / "acceptance_amendments").glob("*.json"))
    record = read_json(amendments[-1]) if amendments else read_json(rd.acceptance)
    A.check_record(record, str(amendments[-1] if amendments else rd.acceptance))
    changed = any(e["action"] == "acceptance_changed" and e["details"].get("after_test_look") for e in events)
    if acceptance_file is None:
        return record, changed
    from omegaconf import OmegaConf

    try:
        spec = OmegaConf.to_container(OmegaConf.load(acceptance_file))
        lines, name = list(spec["criteria"]), str(spec.get("name", Path(acceptance_file).stem))
    except Exception as e:  # missing file, not YAML, no 'criteria' list
        raise MedtorchError(f"--acceptance {acceptance_file}: expected a YAML file with a 'criteria' list "
                            f"(e.g. criteria: ['mcc_lower_ci >= 0.6']); got {type(e).__name__}: {e}") from None
    problems = A.criteria_problems(lines)
    if problems:
        raise MedtorchError(f"--acceptance {acceptance_file}:\n  - " + "\n  - ".join(problems))
    new = A.frozen_record(name, lines, utc_now())
    if new["sha256"] == record["sha256"]:
        return record, changed
    after_look = any(e["action"] == "test_evaluated" for e in events)
    new["replaces_sha256"], new["after_test_look"] = record["sha256"], after_look
    path = write_json(rd.root / "acceptance_amendments" / f"{len(amendments) + 1:03d}.json", new)
    log.append("acceptance_changed", {"sha256": new["sha256"], "replaces_sha256": record["sha256"], "after_test_look": after_look,
                                      "criteria": [c["text"] for c in new["criteria"]]}, outputs=file_hashes(rd.root, [path]))
    return new, changed or after_look


def print_evaluation(ev: dict[str, Any]) -> None:
    lines = [""]
    if ev["criteria_changed_after_test_look"]:
        lines.append("WARNING: the acceptance criteria of this run were changed after a test look.")
    lines.append(f"Test evaluation {ev['evaluation']} on {ev['test_set']['source']} ({ev['test_set']['rows']} rows, "
                 f"sha256 {ev['test_set']['sha256'][:12]}...)")
    lines.append(f"Role of this data: {ev['role'].upper()} (look {ev['look_on_test_set']} on it: {ev['role_reason']})")
    if not ev["hold_out_claim"]:
        lines.append("  No hold-out claim can rest on it: evaluate on new independent data with --test-data NEW_FILE.")
    lines += summary_lines(ev["assessment"])
    if ev["acceptance"]:
        lines.append(f"Acceptance criteria '{ev['criteria']['name']}' (sha256 {ev['criteria']['sha256'][:12]}...):")
        for r in ev["acceptance"]:
            obs = "not observable" if r["observed"] is None else f"observed {r['observed']:.3f}, margin {r['margin']:+.3f}"
            lines.append(f"  {'PASS' if r['passed'] else 'FAIL'}  {r['criterion']:<36} {obs}{'  (' + r['note'] + ')' if r.get('note') else ''}")
        lines.append("ACCEPTED: every criterion passed." if ev["passed"] else
                     f"NOT ACCEPTED: {sum(not r['passed'] for r in ev['acceptance'])} criterion/criteria failed.")
    else:
        lines.append("No acceptance criteria were set (acceptance=none).")
    lines.append(f"Written to {ev['folder']}")
    print("\n".join(lines), flush=True)
