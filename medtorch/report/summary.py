"""The report's first screen: what a reviewer needs to act on, each line from one reading of
the run (``story.read_story``): intended use, data and split, headline metrics with their 95%
intervals, method and n, the confusion matrix, acceptance criteria, test-set role and looks,
the leakage verdict, bridge status per stack, and open findings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medtorch.artefacts import artefact
from medtorch.report.blocks import Block, Missing, Para, Table, fmt, load_structured
from medtorch.report.privacy import count, min_cell
from medtorch.report.story import Story, look_role, read_story

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence

HEADLINE = (("mcc", "MCC"), ("balanced_accuracy", "balanced accuracy"), ("auroc", "AUROC"))


def _json(ev: "Evidence", key: str, **values: object) -> Any:
    """The artefact declared under ``key`` (medtorch.artefacts), parsed; None when absent or unparseable."""
    path = artefact(key).path_in(ev.root, **values)
    try:
        return load_structured(path) if path.is_file() else None
    except ValueError:
        return None


def interval(ci: Any) -> str:
    """'lower to upper' of an interval record, or n/a."""
    if not isinstance(ci, dict) or ci.get("lower") is None or ci.get("upper") is None:
        return "n/a"
    return f"{ci['lower']:.3f} to {ci['upper']:.3f}"


def headline_rows(assessment: dict[str, Any]) -> list[list[Any]]:
    """metric | estimate | 95% CI | method | n, for the headline and per-class metrics of one assessment."""
    ci = assessment.get("ci") or {}
    metrics = assessment.get("metrics") or {}
    rows = []
    for key, name in HEADLINE:
        c = ci.get(key) or {}
        est = c.get("estimate", metrics.get(key))
        rows.append([name, "n/a" if est is None else f"{est:.3f}", interval(c),
                     f"{ci.get('method', 'bootstrap')}, {c.get('method', 'n/a')}" if c else "no interval",
                     c.get("n", assessment.get("n"))])
    for cls, per in (ci.get("per_class") or {}).items():
        for key in ("sensitivity", "specificity"):
            c = per.get(key) or {}
            if c:
                rows.append([f"{key} ({cls})", f"{c.get('estimate', float('nan')):.3f}", interval(c),
                             str(c.get("method", "n/a")), c.get("n")])
    return rows


def _data_table(ev: "Evidence") -> Block:
    split = _json(ev, "split") or {}
    parts = split.get("parts") or {}
    classes = sorted({c for p in parts.values() for c in p.get("class_counts", {})})
    floor = min_cell(ev)
    data = ev.manifest.get("data") or {}
    rows = [[name, p.get("rows"), *[count(p.get("class_counts", {}).get(c), floor) for c in classes]]
            for name, p in parts.items()]
    cap = (f"Data: {data.get('name') or data.get('path') or 'n/a'}, {fmt(data.get('rows'))} rows; split "
           f"{split.get('strategy', 'n/a')} (seed {split.get('seed', 'n/a')}); counts of rows")
    return Table(["split", "rows", *classes], rows, cap)


def _acceptance(ev: "Evidence", story: Story) -> list[Block]:
    latest = story.latest_evaluation or {}
    judged = latest.get("acceptance")
    frozen = (_json(ev, "acceptance") or {}).get("criteria")
    if judged:
        rows = [[fmt(c.get("criterion") or c.get("name") or c.get("metric")), fmt(c.get("threshold")),
                 fmt(c.get("observed") or c.get("value")), "pass" if c.get("passed") else "FAIL"]
                for c in judged if isinstance(c, dict)]
        return [Table(["criterion", "threshold", "observed", "result"], rows,
                      f"Acceptance criteria at test look {story.looks[-1].number}")]
    if frozen:
        return [Para(f"{len(frozen)} acceptance criteria were frozen before evaluation; they are judged at the "
                     "test look, which has not happened.")]
    return [Para("Acceptance criteria: none were set for this run (acceptance=none); nothing is passed or failed.")]


def _findings(ev: "Evidence", story: Story, leakage: dict[str, Any]) -> list[str]:
    out = [f"NOT EVIDENCE: {ev.manifest.get('not_evidence_reason')}"] if ev.manifest.get("evidence") is False else []
    out += [f"leakage check {c.get('check')}: {c.get('status')} ({c.get('summary')})"
           for c in leakage.get("checks", []) if c.get("status") in ("fail", "warn")]
    out += [f"bridge on stack {b.stack_hash[:12]} failed" for b in story.bridges if b.passed is False]
    if story.latest_evaluation and story.latest_evaluation.get("passed") is False:
        out.append(f"acceptance failed at test look {story.looks[-1].number}")
    if len(story.looks) > 1:
        out.append(f"the test set was looked at {len(story.looks)} times; only the first look is a hold-out estimate")
    unverified = [p for p in (ev.rel(ev.rd.manifest), ev.rel(ev.rd.metrics), ev.rel(ev.rd.split))
                  if (ev.root / p).is_file() and p not in ev.recorded]
    out += [f"{p} is not recorded by the audit trail" for p in unverified]
    return out


def summary(ev: "Evidence", found: list[tuple[str, str | None]]) -> tuple[list[Block], set[str]]:
    story = read_story(ev)
    card = ev.config.get("card") or {}
    out: list[Block] = [Para(f"Intended use: {card.get('intended_use') or 'not stated (card.intended_use)'}"),
                        _data_table(ev)]
    latest = (story.latest_evaluation or {}).get("assessment")
    assessment, where = (latest, f"test look {story.looks[-1].number}") if latest else (
        _json(ev, "assessment", split="val"), "validation rows (optimistic: they chose the model)")
    if isinstance(assessment, dict):
        out.append(Table(["metric", "estimate", "95% CI", "interval method", "n"], headline_rows(assessment),
                         f"Headline metrics on the {where}"))
        m = assessment.get("metrics") or {}
        classes = m.get("classes") or []
        if classes and m.get("confusion_matrix"):
            out.append(Table(["true \\ predicted", *classes], [[c, *row] for c, row in zip(classes, m["confusion_matrix"])],
                             f"Confusion matrix on the {where} (counts of rows, n={m.get('n')})"))
    else:
        out.append(Missing("No assessment with confidence intervals is in this run."))
    out.extend(_acceptance(ev, story))
    looks = "; ".join(f"look {lk.number} ({lk.time_utc[:10]}): {look_role(lk)}" for lk in story.looks)
    leakage = _json(ev, "leakage") or {}
    bridges = [f"{b.stack_hash[:12]}: {'passed' if b.passed else 'FAILED'}" for b in story.bridges if not b.training_stack]
    out.append(Table(["question", "answer"], [
        ["test set", story.test_status + (f" ({looks})" if looks else "")],
        ["leakage verdict", f"{leakage.get('status', 'not checked')} ({ev.rel(ev.rd.leakage)})" if leakage else "not checked"],
        ["bridge status", f"trained on stack {str(story.training_stack)[:12]} (the reference); "
                          + (f"bridged to {len(bridges)} other stack(s): " + "; ".join(bridges) if bridges else
                             "not bridged to any other stack")],
        ["cross-validation", f"{story.cv_fold} of the cross-validation in {story.cv_root} (its report: "
                             f"{artefact('cv_report_html').path_in(story.cv_root)})" if story.cv_root else "not part of a cross-validation"],
    ], "Status"))
    findings = _findings(ev, story, leakage)
    out.append(Table(["open finding"], [[x] for x in findings], f"Open findings ({len(findings)})") if findings
               else Para("Open findings: none (no failed or warning check)."))
    return out, {rel for rel, _ in found}
