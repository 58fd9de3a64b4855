"""The governed look at a test set: one recorded evaluation of a finished run.

    load the run (hashes verified) -> recover the sealed test rows, or read a new test file
    and refuse it if it overlaps the development data -> predict -> assess with CIs ->
    judge the recorded acceptance criteria -> in one locked registry transaction: check the
    registry holds everything this run saw, decide the test set's role, record the look and
    its rows' identities -> write the evaluation and the run's event log

One look at a time per run (a lock on the run's ``test_evaluations``), whatever registry each
caller names, so no two looks share a number or a directory. Used by ``medtorch evaluate``
and by ``train.py evaluation.test_look=true`` (a family look when launched as a multirun).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import artefact
from medtorch.audit import utc_now
from medtorch.errors import EXIT_CRITERIA_FAILED, IntegrityError, MedtorchError
from medtorch.evaluation import acceptance as A
from medtorch.evaluation.amendments import active_criteria
from medtorch.evaluation.assessment import assess, summary_lines, write_plots
from medtorch.evaluation.test_rows import new_test_rows, sealed_test_rows
from medtorch.evidence import Run
from medtorch.locking import exclusive
from medtorch.registry import binding
from medtorch.registry.identity import DIGITS_DEFAULT, row_identities
from medtorch.registry.roles import SECOND_STAGE, decide_role, demotions, display, family_distribution
from medtorch.registry.roles import summary as roles_summary
from medtorch.registry.store import Head
from medtorch.run import RunDir, read_json

__all__ = ["EXIT_CRITERIA_FAILED", "governed_test_look", "print_evaluation"]


def governed_test_look(run_dir: str | Path, test_data: str | None = None, registry: str | None = None,
                       acceptance_file: str | None = None, load_options: dict | None = None,
                       family_look: bool = False) -> dict[str, Any]:
    """Evaluate a run on its sealed test set (or on ``test_data``) once, and record it everywhere."""
    from medtorch.integrity import require_intact

    rd = RunDir(run_dir).require()
    with exclusive(rd.test_evaluations):  # one look at a time on this run, from its check to its last record
        # a look is recorded for good (the run's log, the registry): only on a run every file of which is as it
        # recorded it, as ``medtorch audit verify`` checks it, before anything (the bridge included) is written.
        # Under the lock: another look's files, written before their event, are not taken for added ones.
        require_intact(rd.root)
        return _look(run_dir, test_data, registry, acceptance_file, load_options, family_look)


def _look(run_dir: str | Path, test_data: str | None, registry: str | None, acceptance_file: str | None,
          load_options: dict | None, family_look: bool) -> dict[str, Any]:
    from medtorch.loading import verify_artefact
    from medtorch.models.inference import infer
    from medtorch.stack.gate import require_bridged_stack

    run = require_bridged_stack(run_dir, "evaluate", **(load_options or {}))
    rd, manifest, cfg = run.rd, run.manifest, run.config
    weights = artefact("model_weights").relative()
    if manifest.get("cv"):
        raise MedtorchError(f"{rd.root} is cross-validation fold {manifest['cv']['fold']}; folds are never evaluated on the "
                            "test set. Train the final model on the development data (without cv.folds) and evaluate that run.")
    from medtorch.smoke import refuse_if_not_evidence

    refuse_if_not_evidence(rd.root, manifest, "a governed look at the test set")
    if "development" not in manifest or artefact("sealed_test").relative() not in manifest.get("artefacts", {}):
        raise MedtorchError(f"{rd.root} was trained by a medtorch version without a sealed test set and a development "
                            "fingerprint, so a governed look cannot be recorded for it; retrain it with this version.")
    for path in (rd.sealed_test, rd.acceptance):
        verify_artefact(rd, path, manifest)
    opened = binding.open_for_run(manifest, registry)  # fails early on a bad URL or a missing driver
    with exclusive(rd.test_evaluations):  # one look at a time on this run, whatever the registry
        evidence = Run.open(rd.root)  # writes the look's files, hashes them and logs the event
        log = evidence.log
        log.verify_chain()
        seal = read_json(rd.sealed_test)
        # the rows first: test data that is refused (specification, independence) leaves no amendment recorded
        rows = sealed_test_rows(run, seal) if test_data is None else new_test_rows(run, seal, test_data)
        criteria_record, changed_after_look = active_criteria(rd, log, acceptance_file)
        criteria = A.check_record(criteria_record, str(rd.acceptance))
        probs = infer(run.network, rows.frame, run.eval_batch_size, preprocessor=run.preprocessor)
        assessment = assess(rows.y, probs, run.classes, rows.extra, cfg["data"], cfg["evaluation"], int(cfg["seed"]))
        results = A.judge(criteria, A.observed_quantities(assessment))
        bound = manifest.get("registry") or {}
        digits = int((bound.get("row_identity") or {}).get("digits", DIGITS_DEFAULT))
        identity = row_identities(rows.frame, np.asarray(run.classes, dtype=object)[rows.y], rows.extra,
                                  cfg["data"].get("subject_column"), digits)
        fam = bound.get("family") if family_look else None
        with opened.registry.transaction() as tx:
            head, entries = tx.verify()
            events = log.records()
            binding.check_continuity(opened, head, entries, manifest, events)
            prior = [e for e in entries if e["kind"] in binding.LOOK_KINDS and e["test_set"] == rows.sha256]
            shared = binding.overlaps(tx, entries, identity, skip=rows.sha256)
            role = decide_role(prior, manifest["development"], fam["id"] if fam else None,
                               bound.get("development_saw"), rows.sha256, shared)
            number = len([e for e in events if e["action"] == "test_evaluated"]) + 1
            folder = rd.test_evaluation(number)
            if folder.exists():
                raise IntegrityError(f"{folder} already exists but the event log records only {number - 1} test "
                                     "evaluation(s); it was not written by a recorded look. Move it aside and evaluate again.")
            evaluation = {
                "evaluation": number, "time_utc": utc_now(), "run_id": manifest["run_id"],
                "test_set": {"source": rows.source, "sha256": rows.sha256, "rows": len(rows.y)},
                "role": role["role"], "role_reason": role["reason"], "look_on_test_set": len(prior) + 1,
                "hold_out_claim": role["role"] != SECOND_STAGE,
                "registry": {"url": opened.registry.public_url, "source": opened.where.source, "override": opened.override},
                "row_identity": {"kind": identity["kind"], "digits": digits, "recipe": identity["recipe"]},
                "family": None if fam is None else {**fam, "distribution": family_distribution(
                    prior, fam["id"], assessment["ci"]["mcc"]["estimate"])},
                "criteria": criteria_record, "criteria_changed_after_test_look": changed_after_look,
                "acceptance": results, "passed": all(r["passed"] for r in results),
                "assessment": assessment,
            }
            outputs = _write_look(evidence, number, evaluation, rows, probs, run.classes)
            summary = {"evaluation": number, "test_set_sha256": rows.sha256, "role": role["role"], "passed": evaluation["passed"],
                       "criteria_sha256": criteria_record["sha256"], "criteria_changed_after_test_look": changed_after_look,
                       "mcc": assessment["ci"]["mcc"], "failed": [r["criterion"] for r in results if not r["passed"]]}
            tx.add_test_rows(rows.sha256, identity, manifest["run_id"])
            entry = tx.append("look", {**summary, "run_id": manifest["run_id"], "run_dir": str(rd.root.resolve()),
                                       "look_on_test_set": len(prior) + 1, "test_set": evaluation["test_set"],
                                       "development": manifest["development"], "model_sha256": manifest["artefacts"][weights],
                                       "role_reason": role["reason"], "family": fam["id"] if fam else None,
                                       "outputs": {f"{rd.root.name}/{k}": v for k, v in outputs.items()}},
                              run_id=manifest["run_id"], test_set=rows.sha256)
            seen = Head(head.registry_id, entry["seq"], entry["hash"])
            evaluation["roles"] = _roles(evidence, number, evaluation, [*entries, entry])
            outputs.update(evidence.record(rd.test_roles, {"summary": roles_summary(evaluation["roles"]),
                                                           "evaluations": evaluation["roles"]}))
            evidence.event("test_evaluated", {**summary, "registry": {**evaluation["registry"], "head": seen.to_dict()}},
                           inputs={weights: manifest["artefacts"][weights], "test_set": rows.sha256}, outputs=outputs)
    _extend_bridge_set(run, rows, "test" if test_data is None else f"test_look_{number}")
    evaluation["folder"] = str(folder)
    return evaluation


def _write_look(evidence: Run, number: int, evaluation: dict[str, Any], rows, probs, classes) -> dict[str, str]:
    rd = evidence.rd
    table = pd.DataFrame({"row_id": rows.ids, "true_label": np.asarray(classes, dtype=object)[rows.y],
                          "predicted_label": np.asarray(classes, dtype=object)[probs.argmax(axis=1)]})
    for j, c in enumerate(classes):
        table[f"prob_{c}"] = probs[:, j]
    plots = write_plots(evaluation["assessment"], classes, lambda name: rd.at("test_evaluation_plot", n=number, name=name),
                        f"Test evaluation {number}")
    return evidence.record_many({rd.test_evaluation_file(number): evaluation,
                                 rd.test_evaluation_predictions(number): table.to_csv(index=False, float_format="%.8g")},
                                also=plots)


def _roles(evidence: Run, number: int, current: dict[str, Any], looks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One role for each look of this run, the registry's demotions applied (the test roles record); each earlier look's
    file is read once, checked against the hash its test_evaluated event recorded."""
    rd = evidence.rd
    earlier = [evidence.read_json(p) for p in rd.test_evaluation_files if p != rd.test_evaluation_file(number)]
    evals = [e for e in earlier if e["evaluation"] != number] + [current]
    demoted = demotions([lk for lk in looks if lk["kind"] in binding.LOOK_KINDS])
    for sha, n in demotions(evals).items():
        demoted[sha] = min(demoted.get(sha, n), n)
    return display(sorted(evals, key=lambda e: e["evaluation"]), demoted)


def _extend_bridge_set(run, rows, name: str) -> None:
    """Once test rows have been evaluated they join the bridge set, so later stacks are checked on them too."""
    from medtorch.stack.reference import add_rows

    if not run.rd.bridge_added(name, "json").exists():
        add_rows(run, name, rows)


def print_evaluation(ev: dict[str, Any]) -> None:
    lines = [""]
    reg = ev.get("registry") or {}
    if reg.get("override"):
        o = reg["override"]
        lines.append(f"REGISTRY OVERRIDE: this look used {o['used']} ({o['by']}); the run is bound to "
                     f"{o['bound'] or 'no registry'}{' (' + o['note'] + ')' if o.get('note') else ''}.")
    if ev["criteria_changed_after_test_look"]:
        lines.append("WARNING: the acceptance criteria of this run were changed after a test look.")
    lines.append(f"Test evaluation {ev['evaluation']} on {ev['test_set']['source']} ({ev['test_set']['rows']} rows, "
                 f"sha256 {ev['test_set']['sha256'][:12]}...)")
    lines.append(f"Role of this data: {ev['role'].upper()} (look {ev['look_on_test_set']} on it: {ev['role_reason']})")
    if not ev["hold_out_claim"]:
        lines.append("  No hold-out claim can rest on it: evaluate on new independent data with --test-data NEW_FILE.")
    if ev.get("family"):
        d = ev["family"]["distribution"]
        lines.append(f"Family look (multirun {ev['family']['sweep_dir']}): {d['members']} member(s) so far, MCC mean "
                     f"{_f(d['mcc_mean'])}, SD {_f(d['mcc_sd'])}, range [{_f(d['mcc_min'])}, {_f(d['mcc_max'])}]; the "
                     "hold-out result is this distribution, and picking one member afterwards is development.")
    for r in ev.get("roles", []):
        if r["evaluation"] != ev["evaluation"] and r["role"] != r["role_at_the_time"]:
            lines.append(f"  Test evaluation {r['evaluation']} of this run (look {r['look_on_test_set']}): now {r['role']}: {r['note']}.")
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
    lines.append(f"Recorded in test-set registry {reg.get('url')}" if reg else "")
    lines.append(f"Written to {ev['folder']}")
    print("\n".join(lines), flush=True)


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"
