"""Typed tables for artefacts that used to be shown as raw JSON: leakage checks and subgroup /
calendar-period performance (group | n | MCC | 95% CI | interval method | difference from overall)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medtorch.report.blocks import Block, Para, Table, load_structured
from medtorch.report.summary import interval

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence


def _json(ev: "Evidence", rel: str) -> Any:
    try:
        return load_structured(ev.root / rel) if (ev.root / rel).is_file() else None
    except ValueError:
        return None


def leakage_table(ev: "Evidence") -> list[Block]:
    rec = _json(ev, ev.rel(ev.rd.leakage))
    if not isinstance(rec, dict) or not rec.get("checks"):
        return []
    rows = [[c.get("check"), c.get("status"), c.get("summary") or "-"] for c in rec["checks"] if isinstance(c, dict)]
    return [Table(["check", "result", "what was found"], rows,
                  f"Leakage checks ({ev.rel(ev.rd.leakage)}): overall {rec.get('status', 'n/a')}")]


def _est(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"


def _group_blocks(name: str, table: dict[str, Any], source: str) -> list[Block]:
    cells = table.get("cells") or []
    rows = [[c.get("group"), c.get("n"), _est((c.get("mcc") or {}).get("estimate")), interval(c.get("mcc")),
             (c.get("mcc") or {}).get("method", "n/a"), _est(c.get("mcc_vs_overall")),
             "too small to judge" if c.get("small_n") else "judged"] for c in cells]
    out: list[Block] = [Table([name, "n (rows)", "MCC", "95% CI", "interval method", "MCC minus overall", "status"],
                              rows, f"Performance by {name} ({source})")]
    gaps = table.get("gaps") or {}
    if gaps:
        rng = gaps.get("mcc_range")
        out.append(Para(f"MCC gap (largest minus smallest) over the {gaps.get('groups_judged')} groups with at least "
                        f"{gaps.get('min_n')} rows: {'n/a' if rng is None else f'{rng:.3f}'}"
                        + (f"; too small to judge: {', '.join(map(str, gaps['groups_too_small']))}"
                           if gaps.get("groups_too_small") else "") + "."))
    return out


def subgroups(ev: "Evidence", found: list[tuple[str, str | None]]) -> tuple[list[Block], set[str]]:
    out: list[Block] = []
    handled: set[str] = set()
    for rel, key in found:
        if not (rel.startswith("assessment_") and key in ("subgroups", "periods")):
            continue
        rec = _json(ev, rel) or {}
        handled.add(f"{rel}#{key}")
        tables = rec.get(key) or {}
        items = tables.items() if key == "subgroups" else [("calendar period", tables)]
        for name, table in items:
            if isinstance(table, dict):
                out.extend(_group_blocks(name, table, f"{rel}#{key}"))
    return out, handled


def cv_membership(ev: "Evidence", found: list[tuple[str, str | None]]) -> tuple[list[Block], set[str]]:
    """A fold run says which fold it is and where the CV root's report is, from its own manifest."""
    from medtorch.report.story import read_story

    story = read_story(ev)
    if story.cv_root is None:
        return [], set()
    return [Para(f"This run is {story.cv_fold} of a cross-validation. The distribution of the fold metrics and the "
                 f"links to every fold's report are in the CV root's report, ../{ev.rd.report_html.name} from this report "
                 f"({story.cv_root.resolve().name}/{ev.rd.report_html.name}; written when the folds are summarised).")], set()
