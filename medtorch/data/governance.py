"""The governed data steps of a run: split by the configured strategy, check for leakage,
plan rebalancing, record the lineage, explore the data. The pipeline calls each once, in
that order. ``split_table`` and ``load_and_split`` live in ``configured_split`` (a lineage replay
calls them too) and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from medtorch.data import sources
from medtorch.data.configured_split import load_and_split, split_table
from medtorch.data.split import Splits
from medtorch.errors import EXIT_LEAKAGE, MedtorchError
from medtorch.evidence import Run


__all__ = ["LeakageError", "check_leakage", "explore_data", "load_and_split", "record_lineage", "split_table"]


class LeakageError(MedtorchError):
    """A leakage check failed and ``leakage.stop_on_fail`` is set."""

    exit_code = EXIT_LEAKAGE


def check_leakage(cfg: Any, splits: Splits, run: Run, classes: list[str] | None = None):
    """Run every check, write the leakage record; stop the run (``EXIT_LEAKAGE``) on a failed check if configured."""
    from medtorch.data.leakage import run_checks

    rd = run.rd
    if not cfg.leakage.enabled:
        run.event("leakage_checked", {"status": "disabled"})
        return None
    report = run_checks(splits.parts(), cfg.leakage, splits.strategy, cfg.data.subject_column,
                        cfg.data.time_column, cfg.data.target, seed=int(cfg.seed), classes=classes)
    run.record(rd.leakage, {**report.to_dict(), "stop_on_fail": cfg.leakage.stop_on_fail}, event="leakage_checked",
               details={"status": report.status, **{c.check: c.status for c in report.checks}})
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
                   balance: dict, leakage_status: str | None, run: Run) -> None:
    from medtorch.data.lineage import build_lineage, lineage_markdown

    lineage = build_lineage(cfg.data, raw.source, raw.dropped, split_record, prep_state, balance, leakage_status)
    run.record_many({run.rd.lineage: lineage, run.rd.lineage_summary: lineage_markdown(lineage)},
                    event="lineage_recorded", details={"steps": [s["step"] for s in lineage["steps"]]})


def explore_data(cfg: Any, splits: Splits, classes: list[str], balance: dict, run: Run) -> None:
    from medtorch.data.balance import AUGMENTATION_LIMITS, MIXUP_LIMITS
    from medtorch.data.eda import eda_markdown, eda_plots, explore

    rd = run.rd
    if not cfg.eda.enabled:
        run.event("data_explored", {"status": "disabled"})
        return
    eda = explore(splits.parts(), classes, list(cfg.data.subgroup_columns), cfg.data.time_column, cfg.eda, balance)
    plots = eda_plots(eda, rd.eda_plot) if cfg.eda.plots and run.writes else []
    flags = {col: len(r["under_represented"]) for col, r in eda["representativeness"].items()}
    run.record_many({rd.eda: eda, rd.eda_summary: eda_markdown(eda, AUGMENTATION_LIMITS, MIXUP_LIMITS)}, also=plots,
                    event="data_explored", details={"imbalance_ratio": eda["class_imbalance"]["ratio_majority_to_minority"],
                                                    "under_represented": flags})
