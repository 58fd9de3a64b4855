"""What the printed report does with long appendices, and the TRIPOD+AI checklist in print.

The per-event audit log, the recorded hashes, the package versions and per-column tables of more
than 12 rows are folded in report.html (``<details>``, click to open); a page cannot be clicked,
so report.pdf prints only their one-line summaries, and report_appendix.html holds them in full,
hashed and linked from the report's header. The TRIPOD+AI checklist is printed in full.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from conftest import read_json, run_cli
from medtorch.hashing import sha256_file
from medtorch.report.pdf import find_browser
from test_report_evidence import _pdf_text

LIGATURES = {"\ufb01": "fi", "\ufb02": "fl", "\ufb00": "ff", "\ufb03": "ffi", "\ufb04": "ffl"}


def _plain(text: str) -> str:
    for lig, letters in LIGATURES.items():
        text = text.replace(lig, letters)
    return re.sub(r"[ \t]+", " ", text)


def _details(page: str) -> list[tuple[str, str]]:
    """(summary, content) of each folded appendix in a page."""
    return re.findall(r'<details class="[^"]*appendix[^"]*"><summary>(.*?)</summary>(.*?)</details>', page, flags=re.S)


def _events(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.slow
def test_event_log_and_per_column_tables_are_folded_in_html_and_in_full_in_the_appendix(default_run):
    page = (default_run / "report.html").read_text()
    folded = {html.unescape(summary).split(":")[0]: content for summary, content in _details(page)}
    events = _events(default_run)
    shown = events[:-1]  # the report_written event is appended after the report is written
    assert events[-1]["action"] == "report_written"
    log = folded["Event log"]
    assert all(f"<td>{e['hash'][:12]}</td>" in log for e in shown), "the folded event log misses an event"
    numeric = read_json(default_run / "eda.json")["splits"]["train"]["numeric"]
    assert len(numeric) > 12  # the breast-cancer table: 30 numeric columns, so the per-column table is folded
    per_column = next(c for k, c in folded.items() if k.startswith("Numeric columns (training split)"))
    assert all(f"<td>{html.escape(col)}</td>" in per_column for col in numeric)
    assert "Recorded artefacts" in folded and "Packages" in folded
    # the appendix: a file beside the report, named with its hash and linked from the header of both reports
    appendix = default_run / "report_appendix.html"
    digest = sha256_file(appendix)
    assert f'<a href="report_appendix.html">report_appendix.html</a>, sha256 {digest[:16]}' in page
    assert f"[report_appendix.html](report_appendix.html), sha256 {digest[:16]}" in (default_run / "report.md").read_text()
    text = appendix.read_text()
    assert "<details" not in text, "the appendix folds nothing"
    assert all(f"<td>{e['hash'][:12]}</td>" in text for e in shown)
    assert all(f"<td>{html.escape(col)}</td>" in text for col in numeric)
    recorded = events[-1]["outputs"]
    assert recorded["report_appendix.html"] == digest  # recorded by the report's own event ...
    assert run_cli("audit", "verify", str(default_run)).returncode == 0  # ... and verified with the run
    # report.pdf: the folded tables' one-line summaries, pointing at the appendix; not their rows
    if find_browser() is None:
        pytest.skip("no headless Chromium: report.pdf is not written (the run said so)")
    _, pdf = _pdf_text(default_run / "report.pdf")
    pdf = _plain(pdf)
    assert f"Event log: {len(shown)} rows (click to open; not printed: in full in report_appendix.html)" in pdf
    assert f"report_appendix.html, sha256 {digest[:16]}" in pdf.replace("\n", " ")
    assert not [e for e in shown if e["hash"][:12] in pdf], "report.pdf prints the event log's rows"


@pytest.mark.slow
def test_the_pdf_prints_every_tripod_ai_item_and_its_title(default_run):
    from medtorch.report.tripod import ITEMS

    page = (default_run / "report.html").read_text()
    tripod = page[page.index('<section id="tripod">'):]
    tripod = tripod[:tripod.index("</section>")]
    assert "<details class=\"appendix\">" not in tripod.split("Evidence files")[0], "the checklist is folded"
    if find_browser() is None:
        pytest.skip("no headless Chromium: report.pdf is not written (the run said so)")
    _, text = _pdf_text(default_run / "report.pdf")
    text = _plain(text)
    missing = [f"{item} {topic}" for item, topic, _, _ in ITEMS
               if not re.search(rf"(?m)^{re.escape(item)} {re.escape(topic)}\b", text)]
    assert not missing, f"TRIPOD+AI rows not printed in report.pdf: {missing}"
    assert len({item.rstrip("abcdefg") for item, *_ in ITEMS}) == 27 and len(ITEMS) == 52
