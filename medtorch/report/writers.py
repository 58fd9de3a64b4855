"""Write rendered sections as Markdown and as one self-contained HTML page
(styles inline, images as data URIs, links only to its own sections, so it
opens offline in any browser)."""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from dataclasses import dataclass
from typing import Any

from medtorch.artefacts import artefact
from medtorch.report.blocks import Block, Files, Image, Link, MarkdownText, Missing, Para, Sub, Table, fmt
from medtorch.report.compose import Rendered


APPENDIX = artefact("report_appendix").name  # the long tables folded in the HTML and left out of the PDF, in full
REPORT_HTML, REPORT_PDF = artefact("report_html").name, artefact("report_pdf").name


@dataclass
class Header:
    title: str
    facts: list[tuple[str, str]]  # run id, experiment, status, generated, integrity ...
    appendix: str | None = None  # sha256 of the report's appendix when one was written beside the report


def _demote(md: str, by: int = 2) -> str:
    """Headings of an embedded Markdown artefact nest under the section heading."""
    return re.sub(r"^(#{1,6})(\s)", lambda m: "#" * min(6, len(m.group(1)) + by) + m.group(2), md, flags=re.M)


# ---------------------------------------------------------------------------- Markdown
def _md_cell(v: Any) -> str:
    if isinstance(v, Link):
        return f"[{v.text}]({v.href})"
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def _md_block(b: Block) -> str:
    if isinstance(b, Para):
        return b.text
    if isinstance(b, Missing):
        return f"> **Missing:** {b.text}"
    if isinstance(b, Sub):
        return f"### {b.text}"
    if isinstance(b, Table):
        head = f"*{b.caption}*\n\n" if b.caption else ""
        lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |", "|" + " --- |" * len(b.headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
        return head + "\n".join(lines)
    if isinstance(b, Image):
        return f"![{b.caption}]({b.path})"
    if isinstance(b, MarkdownText):
        return f"*From {b.source}:*\n\n" + _demote(b.text.strip())
    if isinstance(b, Files):
        return "Evidence files:\n\n" + "\n".join(f"- `{p}`: {s}" for p, s in b.rows)
    raise TypeError(f"unknown block {type(b).__name__}")


def _appendix_note(digest: str) -> str:
    return (f"sha256 {digest[:16]}...: the per-event audit log, recorded hashes, package versions, per-column tables "
            f"and each section's evidence files in full (folded in {REPORT_HTML}, not printed in {REPORT_PDF})")


def to_markdown(header: Header, sections: list[Rendered]) -> str:
    appendix = [f"- **appendix:** [{APPENDIX}]({APPENDIX}), {_appendix_note(header.appendix)}"] if header.appendix else []
    out = [f"# {header.title}", "", *[f"- **{k}:** {v}" for k, v in header.facts], *appendix, "", "## Contents", ""]
    out += [f"{i}. [{s.title}](#{s.key})" for i, s in enumerate(sections, 1)]
    for i, s in enumerate(sections, 1):
        out += ["", f'<a id="{s.key}"></a>', "", f"## {i}. {s.title}", ""]
        for b in s.blocks:
            out += [_md_block(b), ""]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------- HTML
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1b1f24;line-height:1.45}
h1{border-bottom:3px solid #1f4e79;padding-bottom:.3em}h2{border-bottom:1px solid #ccd;margin-top:2em;color:#1f4e79}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em;display:block;overflow-x:auto}
th,td{border:1px solid #ccd;padding:.25em .55em;text-align:left;vertical-align:top}th{background:#eef2f7}
caption{caption-side:top;text-align:left;font-style:italic;color:#444;padding:.2em 0;min-width:24em}
.missing{background:#fff4e5;border-left:4px solid #e08a00;padding:.5em .8em;margin:.6em 0}
.present{color:#17692d;font-weight:600;white-space:nowrap}.absent{color:#b3261e;font-weight:600;white-space:nowrap}
figure{margin:.8em 0}figure img{max-width:100%;box-sizing:border-box;border:1px solid #dde}figcaption{font-size:.85em;color:#444}
.files{font-size:.82em;color:#444}.embedded{border-left:3px solid #ccd;padding-left:1em}
code{background:#f3f4f6;padding:0 .2em}nav ol{columns:2}
td,th{overflow-wrap:anywhere}td{max-width:40em}
.embedded img{max-width:100%;max-height:420px}details.appendix{margin:.6em 0}details.appendix summary{cursor:pointer;color:#1f4e79}
@page{size:A4;margin:12mm 11mm 14mm 11mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:8.5pt;line-height:1.3}
table{display:table;width:100%;font-size:7.5pt;overflow:visible}
thead{display:table-header-group}tr,figure,.missing{break-inside:avoid}
h2,h3,caption{break-after:avoid}figure img,.embedded img{max-height:62mm;max-width:100%;width:auto}
figure{display:inline-block;width:48%;vertical-align:top;margin:.3em 0}
.embedded img{max-height:55mm}.embedded p:has(> img:only-child){display:inline-block;width:48%;margin:.2em 0;vertical-align:top}.present,.absent{white-space:nowrap}h2{margin-top:1.2em}
nav ol{columns:2;font-size:8.5pt}a{color:inherit;text-decoration:none}
table.checklist td:nth-child(3){width:28%}table.checklist td:nth-child(4),table.trace td:nth-child(4){width:50%}
.embedded p:has(> img:only-child){width:32%}.embedded img{max-height:50mm}
}
table.checklist td:nth-child(1),table.checklist td:nth-child(2),table.checklist td:nth-child(5),table.checklist th,
table.trace td:first-child{white-space:nowrap}
"""


def _cell(v: Any, tag: str) -> str:
    if isinstance(v, Link):
        return f'<{tag}><a href="{html.escape(v.href)}">{html.escape(v.text)}</a></{tag}>'
    text = fmt(v)
    cls = {"present": ' class="present"', "MISSING": ' class="absent"'}.get(text, "")
    return f"<{tag}{cls}>{html.escape(text)}</{tag}>"


def is_palette_png(data: bytes) -> bool:
    """Whether ``data`` is a PNG whose header says palette colour (type 3): already compact."""
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) > 25 and data[25] == 3


def compact_png(data: bytes) -> bytes:
    """A chart re-encoded with a 256-colour palette (Pillow, which matplotlib ships with): plots
    have few colours, so this cuts the embedded size about threefold with no visible change.
    A palette PNG is embedded as it is: medtorch writes its figures so (``medtorch.png_canvas``),
    and re-encoding them cost about 60 ms a figure; older runs' RGBA figures are still re-encoded."""
    if is_palette_png(data):
        return data
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            small = im.convert("RGB").quantize(colors=256, method=PILImage.Quantize.MEDIANCUT)
            buf = io.BytesIO()
            small.save(buf, format="PNG", optimize=True)
    except (OSError, ValueError):
        return data  # not a PNG Pillow can read: embedded as it is
    return buf.getvalue() if len(buf.getvalue()) < len(data) else data


@functools.lru_cache(maxsize=32)
def _render_markdown(text: str) -> str:
    """An embedded Markdown artefact as HTML; cached, as the report and its appendix both render it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(_demote(text))


def _markdown_html(b: MarkdownText, fold: bool = True, images: bool = True) -> str:
    """``images=False``: the page without its embedded charts (for a caller that only looks at its tables)."""
    out = _render_markdown(b.text)
    for path, data in (b.images.items() if images else ()):  # embed the images so the page stays self-contained
        uri = "data:image/png;base64," + base64.b64encode(compact_png(data)).decode("ascii")
        out = out.replace(f'src="{html.escape(path)}"', f'src="{uri}"')
    return _fold_long_tables(out) if fold else out


LONG_TABLE_ROWS = 12


def _fold_long_tables(page: str) -> str:
    """Tables of an embedded artefact longer than LONG_TABLE_ROWS rows fold into an appendix."""
    def fold(m: re.Match) -> str:
        rows = m.group(0).count("<tr>") - 1
        if rows <= LONG_TABLE_ROWS:
            return m.group(0)
        return (f'<details class="appendix"><summary>Table of {rows} rows (click to open; not printed: in full in '
                f"{APPENDIX})</summary>{m.group(0)}</details>")
    return re.sub(r"<table>.*?</table>", fold, page, flags=re.S)


def _html_block(b: Block) -> str:
    if isinstance(b, Para):
        return f"<p>{html.escape(b.text)}</p>"
    if isinstance(b, Missing):
        return f'<div class="missing"><strong>Missing:</strong> {html.escape(b.text)}</div>'
    if isinstance(b, Sub):
        return f"<h3>{html.escape(b.text)}</h3>"
    if isinstance(b, Table):
        cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
        head = "<tr>" + "".join(_cell(h, "th") for h in b.headers) + "</tr>"
        body = "".join("<tr>" + "".join(_cell(c, "td") for c in row) + "</tr>" for row in b.rows)
        cls = f' class="{html.escape(b.css)}"' if b.css else ""
        table = f"<table{cls}>{cap}<thead>{head}</thead><tbody>{body}</tbody></table>"
        if b.collapsed:
            return (f'<details class="appendix"><summary>{html.escape(b.caption)}: {len(b.rows)} rows (click to open; '
                    f"not printed: in full in {APPENDIX})</summary>{table}</details>")
        return table
    if isinstance(b, Image):
        uri = "data:image/png;base64," + base64.b64encode(compact_png(b.data)).decode("ascii")
        return (f'<figure><img src="{uri}" alt="{html.escape(b.caption)}">'
                f"<figcaption>{html.escape(b.caption)} ({html.escape(b.path)})</figcaption></figure>")
    if isinstance(b, MarkdownText):
        return (f'<div class="embedded"><p><em>From {html.escape(b.source)}:</em></p>'
                f"{_markdown_html(b)}</div>")
    if isinstance(b, Files):
        items = "".join(f'<li><a href="{html.escape(p)}"><code>{html.escape(p)}</code></a>: {html.escape(s)}</li>'
                        for p, s in b.rows)
        return (f'<details class="files appendix"><summary>Evidence files ({len(b.rows)}): paths, hashes and links '
                f"(also in {APPENDIX})</summary><ul>{items}</ul></details>")
    raise TypeError(f"unknown block {type(b).__name__}")


def to_html(header: Header, sections: list[Rendered]) -> str:
    facts = "".join(f"<li><strong>{html.escape(k)}:</strong> {html.escape(v)}</li>" for k, v in header.facts)
    if header.appendix:
        facts += (f'<li><strong>appendix:</strong> <a href="{APPENDIX}">{APPENDIX}</a>, '
                  f"{html.escape(_appendix_note(header.appendix))}</li>")
    nav = "".join(f'<li><a href="#{s.key}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.key}"><h2>{i}. {html.escape(s.title)}</h2>'
                   + "".join(_html_block(b) for b in s.blocks) + "</section>"
                   for i, s in enumerate(sections, 1))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(header.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(header.title)}</h1><ul>{facts}</ul><nav><h2>Contents</h2><ol>{nav}</ol></nav>"
            f"{body}</body></html>\n")
