"""Write the Markdown and HTML evidence report for a run directory.

The run's audit trail is verified first: a report is never written from a changed artefact.
The report records in the event log which artefacts (by hash) it was built from and the
hashes of what it wrote, so ``medtorch audit verify`` covers the report too.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path

from medtorch.audit import EventLog, utc_now
from medtorch.errors import MedtorchError
from medtorch.evidence import Run
from medtorch.integrity import require_intact
from medtorch.report.appendix import has_appendix, to_appendix_html
from medtorch.report.blocks import Files, Image, load_structured
from medtorch.report.compose import Rendered, render_all
from medtorch.report.privacy import rare_levels, redact
from medtorch.report.pdf import find_browser, no_browser_message, start_printer, write_pdf
from medtorch.report.printer import Printer
from medtorch.report.evidence import Evidence
from medtorch.report.traceability import Trace, trace
from medtorch.report.writers import APPENDIX, Header, to_html, to_markdown
from medtorch.run import RunDir, keep_previous_version, original_path, read_json


@dataclass
class Report:
    header: Header
    sections: list[Rendered]
    traces: list[Trace]
    recorded: set[str]  # artefacts whose hashes were verified against the audit trail
    rare_levels: list[str]  # category levels too rare to name (privacy.rare_levels)


def gather(run_dir: str | Path) -> tuple[RunDir, Evidence, int]:
    """Verify the run and collect what the renderers read."""
    rd = RunDir(Path(run_dir)).require()
    verification = require_intact(rd.root)
    config = load_structured(rd.config) if rd.config.is_file() else {}
    events = EventLog(rd.events).records()
    ev = Evidence(rd.root, read_json(rd.manifest), config or {}, events, verification.files)
    return rd, ev, verification.events


def build_report(run_dir: str | Path) -> tuple[RunDir, Report]:
    rd, ev, n_events = gather(run_dir)
    traces = trace(ev)
    sections = render_all(ev, traces)
    m = ev.manifest
    present = sum(t.present for t in traces)
    header = Header(f"Evidence report: {m.get('experiment')} run {str(m.get('run_id'))[:12]}", [
        ("run directory", str(rd.root)), ("run id", str(m.get("run_id"))), ("status", str(m.get("status"))),
        ("trained", f"{m.get('started_utc')} to {m.get('finished_utc')} (UTC)"),
        ("report written", f"{utc_now()} (UTC) by medtorch {m.get('medtorch_version')}"),
        ("audit trail", f"{n_events} events, hash chain intact, {len(ev.recorded)} recorded files verified "
                        f"(re-check: medtorch audit verify RUN)"),
        ("traceability", f"{present} of {len(traces)} expectations have evidence in this run"),
        *([("NOT EVIDENCE", str(m.get("not_evidence_reason")))] if m.get("evidence") is False else []),
    ])
    return rd, Report(header, sections, traces, set(ev.recorded), rare_levels(ev))


def write_report(run_dir: str | Path, pdf: bool | None = None) -> tuple[Path, Path]:
    """Verify, build and write the report; append one event naming its inputs and outputs.

    ``pdf``: None writes the PDF report when ``cfg.report.pdf`` is auto and a headless
    Chromium is found (saying once on stderr when none is); True requires it (a clear error
    when no browser is found); False writes HTML and Markdown only."""
    rd = RunDir(Path(run_dir)).require()
    wanted = str((load_config_report(rd) or {}).get("pdf", "auto")) != "off"
    browser = find_browser() if pdf is not False else None
    if pdf and browser is None:  # before anything is written: nothing is lost or half-written
        raise MedtorchError(f"cannot write {rd.report_pdf}: {no_browser_message()}")
    if pdf is None:
        pdf = wanted and browser is not None
        if wanted and not pdf:
            print(f"medtorch report: {no_browser_message()}", file=sys.stderr, flush=True)
    printer = start_printer(browser) if pdf else None  # starts while the report is verified and built
    try:
        return _write(run_dir, pdf, printer)
    finally:
        if printer is not None:
            printer.close()


def _write(run_dir: str | Path, pdf: bool, printer: Printer | None) -> tuple[Path, Path]:
    rd, report = build_report(run_dir)
    generated = [b for s in report.sections for b in s.blocks if isinstance(b, Image) and b.generated]
    run = Run.open(rd.root)  # each file below: written, hashed, an earlier version kept under versions/
    images = run.record_many({rd.root / img.path: img.data for img in generated})
    pdf_path, appendix = rd.report_pdf, rd.root / APPENDIX
    rare = report.rare_levels  # a last privacy net over everything written: no rare category level by name
    written = [appendix] if has_appendix(report.sections) else []
    # earlier reports stay verifiable: the PDF (written by the browser) and an appendix this report does not replace
    moved = keep_previous_version(rd.root, [pdf_path, *([] if written else [appendix])])
    appendix_hash = {}
    if written:  # first: the report names its hash
        appendix_hash = run.record(appendix, redact(to_appendix_html(report.header, report.sections), rare, html.escape))
        report.header.appendix = appendix_hash[run.rel(appendix)]
    outputs = run.record_many({rd.report_md: redact(to_markdown(report.header, report.sections), rare),
                               rd.report_html: redact(to_html(report.header, report.sections), rare, html.escape)})
    required, failed = pdf, None
    if pdf:
        try:
            write_pdf(rd.report_html, pdf_path, dict(report.header.facts)["run id"], printer=printer)
        except MedtorchError as e:  # the HTML and Markdown are still recorded below
            pdf, failed = False, e
            print(f"medtorch report: {e}", file=sys.stderr, flush=True)
    # inputs: the verified artefacts the report showed (unverified ones are flagged in the report, not vouched for here)
    used = sorted({p for s in report.sections for b in s.blocks if isinstance(b, Files) for p, _ in b.rows
                   if p in report.recorded})
    outputs = {**outputs, **run.hashes([pdf_path] if pdf else []), **appendix_hash, **images}
    # an earlier PDF or appendix this report did not replace now lies under versions/: the event says it was
    # taken away, so audit verify checks it there instead of missing it at its old path
    removed = [name for name in (run.rel(original_path(rd.root, kept)) for kept in moved) if name not in outputs]
    run.event(
        "report_written",
        {"expectations_present": [t.expectation for t in report.traces if t.present],
         "expectations_missing": [t.expectation for t in report.traces if not t.present],
         "sections_without_evidence": [s.key for s in report.sections if not s.present],
         **({"removed": removed} if removed else {})},
        inputs=run.hashes([rd.root / p for p in used]),
        outputs=outputs,
    )
    if failed is not None and required is True:
        raise failed
    return rd.report_md, rd.report_html


def load_config_report(rd: RunDir) -> dict | None:
    """The run's ``report`` config group (privacy floor, PDF choice), or None."""
    try:
        config = load_structured(rd.config) if rd.config.is_file() else {}
    except ValueError:
        return None
    return (config or {}).get("report")
