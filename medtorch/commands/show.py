"""``medtorch show RUN``: status, validation metrics and artefacts of a run."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from medtorch.errors import EXIT_OK, EXIT_RUN_NOT_COMPLETE, IntegrityError
from medtorch.run import RunDir, read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory (as printed at the end of train.py)")


def _f(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def run(args: argparse.Namespace) -> int:
    from medtorch.report.cv_root import is_cv_root

    if is_cv_root(args.run):
        return _show_cv_root(args.run)
    rd = RunDir(args.run)
    manifest = read_json(rd.manifest) if rd.manifest.is_file() else None
    if manifest is None:
        rd.require()  # raises with the reason
    if not isinstance(manifest, dict):  # valid JSON, yet no manifest: changed if it was recorded, else unreadable
        from medtorch.integrity import require_intact

        require_intact(rd.root, [rd.manifest.name])
        raise IntegrityError(f"{rd.manifest}: not a run manifest (a JSON object); restore the original file.")
    complete = manifest.get("status") == "complete"
    unrecorded = _check_before_showing(rd, complete)
    print(f"run {manifest['run_id']}  experiment {manifest['experiment']}  status {manifest['status']}")
    print(f"started {manifest['started_utc']}  finished {manifest.get('finished_utc')}")
    if not complete:
        print(f"error: {manifest.get('error', 'unknown')}")
        if unrecorded:
            print(f"({rd.manifest.name} as the run wrote it when it started or resumed; a run records it when it "
                  "ends, and this one has not ended: it is still running, or was stopped before it could)")
        return EXIT_RUN_NOT_COMPLETE
    metrics = read_json(rd.metrics)
    if metrics.get("task") == "survival":  # time-to-event summary (medtorch/survival/report.py)
        from medtorch.survival.report import show_lines

        print("\n".join(show_lines(rd, metrics, manifest)))
        return EXIT_OK
    val = metrics["val"]
    print(f"validation n={val['n']}  MCC {_f(val['mcc'])}  balanced accuracy {_f(val['balanced_accuracy'])}  AUROC {_f(val['auroc'])}")
    print("confusion matrix (rows true, columns predicted): " + ", ".join(val["classes"]))
    for name, row in zip(val["classes"], val["confusion_matrix"]):
        print(f"  {name:<20}" + "".join(f"{v:>8}" for v in row))
    _show_test_evaluations(rd, manifest)
    # the hashes the run recorded, not a check of the files on disk (show verifies only what it prints above)
    print(f"artefacts as the run recorded them (medtorch audit verify {rd.root} checks the files against them):")
    for name, digest in sorted(manifest.get("artefacts", {}).items()):
        print(f"  {name:<28} sha256 {digest[:16]}...")
    return EXIT_OK


def _check_before_showing(rd: RunDir, complete: bool) -> bool:
    """Verify what show prints before printing any of it; True for a run that has not ended (its manifest unrecorded).

    A run records its manifest when it ends (complete, failed, interrupted). A complete run's
    manifest and metrics must match the hashes its log recorded, and so must the manifest of any
    run whose log's last run event is an end: an edited status is tampering (EXIT_INTEGRITY). A
    run whose last run event is its start or a resume has not ended: it is still running, or was
    killed before it could record the manifest, which is then shown as written (EXIT_RUN_NOT_COMPLETE),
    once the log itself checks out.
    """
    from medtorch.integrity import require_intact
    from medtorch.run import last_run_event

    not_ended = False
    if not complete:  # which run event came last; the log's chain is checked just below
        last = last_run_event(rd)
        not_ended = last is not None and last.get("action") in ("run_started", "run_resumed")
    # one check of the log's chain and head, and of the files show prints that the run has recorded
    require_intact(rd.root, [rd.manifest.name, rd.metrics.name] if complete else [] if not_ended else [rd.manifest.name])
    return not_ended


def _show_test_evaluations(rd: RunDir, manifest: dict) -> None:
    """The governed test looks of this run, with one role per test set (demotions applied) and the acceptance result."""
    from medtorch.registry.current import current_roles

    reg = manifest.get("registry")
    print(f"test-set registry: {reg['url']} (bound at training)" if reg else "test-set registry: none (trained before registries)")
    roles, source = current_roles(rd, manifest)
    if not roles:
        print("test set: sealed, not evaluated")
        return
    for r in roles:
        ev = read_json(rd.test_evaluation_file(r["evaluation"]))
        result = "no criteria" if not ev["acceptance"] else ("accepted" if ev["passed"] else "NOT accepted")
        mark = "  [criteria changed after a test look]" if ev["criteria_changed_after_test_look"] else ""
        over = (ev.get("registry") or {}).get("override")
        mark += f"  [registry override: {over['used']}]" if over else ""
        note = f" ({r['note']})" if r["role"] != r["role_at_the_time"] else ""
        print(f"test evaluation {ev['evaluation']} (look {r['look_on_test_set']} on it): {ev['test_set']['source']} as "
              f"{r['role']}{note}, MCC {_f(ev['assessment']['ci']['mcc']['estimate'])}, {result}{mark}")
    print(f"roles as of: {source}")


def _show_cv_root(root: str) -> int:
    """A cross-validation root: its folds and the distribution of their validation metrics."""
    from medtorch.report.cv_root import _verified_summary

    summary = _verified_summary(Path(root))
    print(f"cross-validation {root}: {summary['folds']} folds ({summary['strategy']})")
    for f in summary.get("per_fold", []):
        print(f"  fold {f['fold']}  {f['run_dir']:<10} validation n={f['val_rows']}  MCC {_f(f.get('mcc'))}  "
              f"balanced accuracy {_f(f.get('balanced_accuracy'))}  AUROC {_f(f.get('auroc'))}")
    for name in ("mcc", "balanced_accuracy", "auroc"):
        d = summary.get("distribution", {}).get(name, {})
        print(f"  {name}: mean {_f(d.get('mean'))}  SD {_f(d.get('sd'))}  over {d.get('folds_defined')} folds")
    return EXIT_OK
