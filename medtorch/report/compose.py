"""Turn the section table and the traceability rows into a list of rendered sections.

One function per step: find a section's evidence, let its renderer show what it knows, show
the rest generically, say so when nothing is there; then the traceability table.
"""

from __future__ import annotations

from dataclasses import dataclass

from medtorch.report.blocks import Block, Files, Image, Link, MarkdownText, Missing, Para, Table, file_blocks
from medtorch.report.privacy import row_level, strip_row_level
from medtorch.report.sections import SECTIONS, Evidence, Section
from medtorch.report.traceability import Trace

TRACE_KEY = "traceability"


@dataclass
class Rendered:
    key: str
    title: str
    blocks: list[Block]
    present: bool  # whether any of the section's evidence was in the run


def _found(ev: Evidence, section: Section) -> list[tuple[str, str | None]]:
    seen, out = set(), []
    for pattern in section.evidence:
        for item in ev.find(pattern):
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


def render_section(ev: Evidence, section: Section) -> Rendered:
    found = _found(ev, section)
    blocks: list[Block] = []
    handled: set[str] = set()
    if section.render is not None:
        shown, handled = section.render(ev, found)
        blocks.extend(shown)
    if not found and not blocks:
        blocks.append(Missing(f"Not in this run: {section.absent}"))
    rels = {rel for rel, _ in found}
    for rel, key in found:
        if rel in handled or f"{rel}#{key}" in handled or row_level(rel):
            continue
        if key is None and rel.endswith(".json") and rel[:-5] + ".md" in rels:
            continue  # the Markdown summary of the same artefact is shown instead; the JSON is listed below
        blocks.extend(file_blocks(ev.root, rel, key))
    blocks = _without_repeats(blocks)
    if found:
        files = Files()
        for rel in dict.fromkeys(rel for rel, _ in found):
            files.rows.append((rel, ev.status(rel)))
        blocks.append(files)
    return Rendered(section.key, section.title, blocks, bool(found))


def _without_repeats(blocks: list[Block]) -> list[Block]:
    """An image a Markdown artefact already embeds is not shown a second time; row-level parts of
    Markdown artefacts (local explanations of single patients) are left out."""
    embedded: set[str] = set()
    out: list[Block] = []
    for b in blocks:
        if isinstance(b, MarkdownText):
            b = strip_row_level(b)
            embedded.update(b.images)
        if isinstance(b, Image) and b.path in embedded:
            continue
        out.append(b)
    return out


def render_traceability(traces: list[Trace], titles: dict[str, str]) -> Rendered:
    rows = [[str(i), t.expectation, "present" if t.present else "MISSING",
             "; ".join(t.evidence) if t.evidence else "no artefact in this run shows it",
             Link(titles.get(t.section, t.section), f"#{t.section}")] for i, t in enumerate(traces, 1)]
    present = sum(t.present for t in traces)
    blocks: list[Block] = [
        Para(f"{present} of {len(traces)} expectations have evidence in this run; {len(traces) - present} are missing. "
             "Each row is computed from the artefacts present in the run directory when the report was written."),
        Table(["#", "expectation", "status", "evidence in this run", "section"], rows, "Traceability", css="trace"),
    ]
    return Rendered(TRACE_KEY, "Traceability: regulatory expectations and their evidence", blocks, True)


def render_all(ev: Evidence, traces: list[Trace]) -> list[Rendered]:
    sections = [render_section(ev, s) for s in SECTIONS]
    missing = [t.expectation for t in traces if not t.present]
    card = next((s for s in sections if s.key == "model-card"), None)
    if missing and card is not None:
        card.blocks.append(Missing("Evidence missing from this run (a limitation of what it can support): "
                                          + "; ".join(missing) + "."))
    titles = {s.key: s.title for s in sections}
    return [*sections, render_traceability(traces, titles)]
