"""The governed data steps of a run: split by the configured strategy, check for leakage,
plan rebalancing, record the lineage, explore the data. The pipeline calls each once, in
that order. ``split_table`` and ``load_and_split`` live in ``configured_split`` (a lineage replay
calls them too) and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from medtorch.audit import EventLog, file_hashes
from medtorch.data import sources
from medtorch.data.configured_split import load_and_split, split_table
from medtorch.data.split import Splits
from medtorch.errors import EXIT_LEAKAGE, MedtorchError
from medtorch.run import RunDir, write_json, write_text


__all__ = ["LeakageError", "check_leakage", "explore_data", "load_and_split", "record_lineage", "split_table"]


class LeakageError(MedtorchError):
    """A leakage check failed and ``leakage.stop_on_fail`` is set."""

    exit_code = EXIT_LEAKAGE


def check_leakage(cfg: Any, splits: Splits, rd: RunDir, log: EventLog, classes: list[str] | None = None):
    """Run every check, write leakage.json; stop the run (``EXIT_LEAKAGE``) on a failed check if configured."""
    from medtorch.data.leakage import run_checks

    if not cfg.leakage.enabled:
        log.append("leakage_checked", {"status": "disabled"})
        return None
    report = run_checks(splits.parts(), cfg.leakage, splits.strategy, cfg.data.subject_column,
                        cfg.data.time_column, cfg.data.target, seed=int(cfg.seed), classes=classes)
    write_json(rd.leakage, {**report.to_dict(), "stop_on_fail": cfg.leakage.stop_on_fail})
    log.append("leakage_checked", {"status": report.status, **{c.check: c.status for c in report.checks}},
               outputs=file_hashes(rd.root, [rd.leakage]))
    for c in report.checks:
        if c.status in ("warn", "fail", "accepted"):
            print(f"leakage check {c.check}: {c.status.upper()}: {c.summary}", flush=True)
    if report.failed and cfg.leakage.stop_on_fail:
        lines = "\n  - ".join(f"{c.check}: {c.summary}" for c in report.failed)
        raise LeakageError(
            f"leakage check(s) failed, so the run stopped before training:\n  - {lines}\n"
            f"Evidence (counts, example row ids): {rd.leakage}. Fix the data or the split; if you have checked "
            "that a check's finding is not a leak, acknowledge that one check with a recorded reason, e.g. "
            f"leakage.accept.{report.failed[0].check}=\"why it is not a leak\" (the finding and the reason stay "
            "recorded in the run); leakage.stop_on_fail=false trains anyway whatever fails."
        )
    return report


def record_lineage(cfg: Any, raw: sources.RawTable, splits: Splits, split_record: dict, prep_state: dict,
                   balance: dict, leakage_status: str | None, rd: RunDir, log: EventLog) -> None:
    from medtorch.data.lineage import build_lineage, lineage_markdown

    lineage = build_lineage(cfg.data, raw.source, raw.dropped, split_record, prep_state, balance, leakage_status)
    write_json(rd.lineage, lineage)
    write_text(rd.lineage_summary, lineage_markdown(lineage))
    log.append("lineage_recorded", {"steps": [s["step"] for s in lineage["steps"]]},
               outputs=file_hashes(rd.root, [rd.lineage, rd.lineage_summary]))


def explore_data(cfg: Any, splits: Splits, classes: list[str], balance: dict, rd: RunDir, log: EventLog) -> None:
    from medtorch.data.balance import AUGMENTATION_LIMITS, MIXUP_LIMITS
    from medtorch.data.eda import eda_markdown, eda_plots, explore

    if not cfg.eda.enabled:
        log.append("data_explored", {"status": "disabled"})
        return
    eda = explore(splits.parts(), classes, list(cfg.data.subgroup_columns), cfg.data.time_column, cfg.eda, balance)
    write_json(rd.eda, eda)
    write_text(rd.eda_summary, eda_markdown(eda, AUGMENTATION_LIMITS, MIXUP_LIMITS))
    plots = eda_plots(eda, rd.eda_plot) if cfg.eda.plots else []
    flags = {col: len(r["under_represented"]) for col, r in eda["representativeness"].items()}
    log.append("data_explored", {"imbalance_ratio": eda["class_imbalance"]["ratio_majority_to_minority"],
                                 "under_represented": flags},
               outputs=file_hashes(rd.root, [rd.eda, rd.eda_summary, *plots]))
