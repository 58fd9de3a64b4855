"""Validation intervals and the test looks, as typed tables: metric | estimate | 95% CI |
method | n. Each look at the test set is one row (number, date, role as recorded then, result)
with a link to its folder; the latest look's metrics are shown in full."""

from __future__ import annotations

from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from medtorch.artefacts import artefact
from medtorch.report.blocks import Block, Image, Missing, Para, Sub, Table, load_structured
from medtorch.report.story import look_role, read_story
from medtorch.report.summary import headline_rows

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence


def _calibration_rows(assessment: dict[str, Any]) -> list[list[Any]]:
    cal = assessment.get("calibration") or {}
    return [[cls, f"{c.get('ece'):.3f}" if c.get("ece") is not None else "n/a", sum(x or 0 for x in c.get("n") or []),
             len(c.get("n") or [])] for cls, c in (cal.get("per_class") or {}).items()]


def _assessment_blocks(assessment: dict[str, Any], label: str) -> list[Block]:
    out: list[Block] = [Table(["metric", "estimate", "95% CI", "interval method", "n"], headline_rows(assessment),
                              f"{label}: metrics with 95% confidence intervals")]
    cal = _calibration_rows(assessment)
    if cal:
        out.append(Table(["class", "expected calibration error", "n", "bins"], cal, f"{label}: calibration"))
    return out


def intervals_and_looks(ev: "Evidence", found: list[tuple[str, str | None]], metrics: Any) -> tuple[list[Block], set[str]]:
    out: list[Block] = []
    reliability = artefact("reliability_plot").glob
    mine = [artefact(k).glob for k in ("assessment", "test_evaluation", "test_evaluation_predictions",
                                       "test_evaluation_plot")] + [reliability]
    handled = {rel for rel, _ in found if any(fnmatch(rel, g) for g in mine)}
    path = ev.rd.assessment("val")
    if path.is_file():
        try:
            out.extend(_assessment_blocks(load_structured(path), "Validation"))
        except ValueError:
            out.append(Missing(f"{path.name} does not parse; its intervals cannot be shown."))
    else:
        out.append(Missing(f"Confidence intervals: none in this run (the bootstrap assessment writes {path.name})."))
    for rel, _ in found:
        if fnmatch(rel, reliability):
            out.append(Image(rel, (ev.root / rel).read_bytes(), "Reliability diagram (validation)"))
    story = read_story(ev)
    if not story.looks:
        out.append(Para("Test set: sealed; no look at it is recorded in the event log (medtorch evaluate RUN "
                        "makes the governed look)."))
        return out, handled
    out.append(Sub(f"Test looks ({len(story.looks)})"))
    out.append(Table(["look", "time (UTC)", "role (as recorded at the look)", "acceptance", "folder"],
                     [[lk.number, lk.time_utc, look_role(lk), {True: "passed", False: "FAILED"}.get(lk.passed, "n/a"),
                       lk.folder or "removed"] for lk in story.looks],
                     "Looks at the test set, from the run's event log"))
    latest = story.latest_evaluation or {}
    if isinstance(latest.get("assessment"), dict):
        out.extend(_assessment_blocks(latest["assessment"], f"Test look {story.looks[-1].number}"))
    return out, handled
