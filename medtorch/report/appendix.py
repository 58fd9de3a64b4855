"""The report's appendix (``artefact("report_appendix")``): the long appendices in full, beside the report.

The HTML report folds the per-event audit log, the recorded hashes, the package versions, the
per-column tables of more than 12 rows and each section's list of evidence files into
``<details>`` elements (click to open). A printed page cannot be clicked, so the PDF report
shows only their one-line summaries; this page holds them expanded, section by section, so
that what the PDF leaves out is still one self-contained file, hashed and linked from the
report's header. Nothing new is computed here: the blocks are the report's own.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from medtorch.report.blocks import Block, Files, MarkdownText, Table
from medtorch.report.compose import Rendered
from medtorch.report.writers import CSS, LONG_TABLE_ROWS, REPORT_HTML, REPORT_PDF, Header, _html_block, _markdown_html


def _long_tables(b: MarkdownText) -> list[str]:
    """The tables of an embedded Markdown artefact that the HTML report folds (more than LONG_TABLE_ROWS rows)."""
    page = _markdown_html(b, fold=False, images=False)  # only its tables are wanted: no chart re-encoded
    return [t for t in re.findall(r"<table>.*?</table>", page, flags=re.S) if t.count("<tr>") - 1 > LONG_TABLE_ROWS]


def _expanded(b: Block) -> list[str]:
    if isinstance(b, Table) and b.collapsed:
        return [_html_block(replace(b, collapsed=False))]
    if isinstance(b, MarkdownText):
        return [f"<p><em>From {html.escape(b.source)}:</em></p>{t}" for t in _long_tables(b)]
    if isinstance(b, Files) and b.rows:
        items = "".join(f'<li><a href="{html.escape(p)}"><code>{html.escape(p)}</code></a>: {html.escape(s)}</li>'
                        for p, s in b.rows)
        return [f'<p class="files">Evidence files ({len(b.rows)}):</p><ul class="files">{items}</ul>']
    return []


def has_appendix(sections: list[Rendered]) -> bool:
    return any(_expanded(b) for s in sections for b in s.blocks)


def to_appendix_html(header: Header, sections: list[Rendered]) -> str:
    """One self-contained page: each report section's folded blocks, expanded, under the section's number."""
    facts = "".join(f"<li><strong>{html.escape(k)}:</strong> {html.escape(v)}</li>" for k, v in header.facts)
    body = []
    for i, s in enumerate(sections, 1):
        parts = [x for b in s.blocks for x in _expanded(b)]
        if parts:
            body.append(f'<section id="{s.key}"><h2>{i}. {html.escape(s.title)}</h2>{"".join(parts)}</section>')
    title = f"Appendix: {header.title}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><ul>{facts}</ul>"
            f'<p>The long tables that <a href="{REPORT_HTML}">{REPORT_HTML}</a> folds and {REPORT_PDF} does not print, in '
            f"full; section numbers are the report's.</p>{''.join(body)}</body></html>\n")
