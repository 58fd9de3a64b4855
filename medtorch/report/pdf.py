"""The PDF report: the same HTML report printed by a headless Chromium found on the machine.

Chromium rather than WeasyPrint: it is the engine the browser tests already drive, so the PDF
is the page the reader sees, it honours CSS ``@page`` margin boxes (page numbers, a footer with
the run id and the report's hash) and ``break-inside``, and it needs no Python dependency with
native libraries. Nothing is downloaded: when no browser is found the report stays HTML only.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import tempfile
from pathlib import Path

from medtorch.artefacts import artefact
from medtorch.errors import MedtorchError
from medtorch.report.printer import Printer, PrintFailed, print_once
from medtorch.run import write_bytes

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 180


def find_browser() -> str | None:
    """A headless-capable Chromium on PATH (``MEDTORCH_CHROMIUM`` names one explicitly; empty: none)."""
    if "MEDTORCH_CHROMIUM" in os.environ:
        return shutil.which(os.environ["MEDTORCH_CHROMIUM"]) if os.environ["MEDTORCH_CHROMIUM"] else None
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def no_browser_message() -> str:
    pdf, html_name = artefact("report_pdf").name, artefact("report_html").name
    return ("no headless Chromium found on PATH (looked for " + ", ".join(BROWSERS) + f"); {pdf} is not written, "
            f"{html_name} is. Install one (Debian: apt-get install chromium) and run medtorch report RUN --pdf.")


def _footer_css(run_id: str, digest: str) -> str:
    text = f"run {run_id[:12]} \u00b7 {artefact('report_html').name} sha256 {digest[:16]}"
    return ("@page{@bottom-left{content:" + _css_string(text) + ";font-size:8pt;color:#555}"
            "@bottom-right{content:\"page \" counter(page) \" of \" counter(pages);font-size:8pt;color:#555}}")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_pdf(html_path: Path, pdf_path: Path, run_id: str, browser: str | None = None,
              printer: Printer | None = None) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, footer with run id, report hash and page numbers).

    ``printer``: a browser already started for this (``start_printer``; the caller closes it);
    None starts one and closes it here."""
    browser = browser or (printer.browser if printer else find_browser())
    if browser is None:
        raise MedtorchError(f"cannot write {pdf_path}: " + no_browser_message())
    page = html_path.read_bytes()
    digest = hashlib.sha256(page).hexdigest()
    styled = page.replace(b"</head>", f"<style>{html.escape(_footer_css(run_id, digest), quote=False)}</style></head>"
                          .encode(), 1)
    own = printer is None
    with tempfile.TemporaryDirectory(prefix="medtorch-pdf-") as tmp:
        src = Path(tmp) / html_path.name
        src.write_bytes(styled)
        try:
            printer = printer or (Printer(browser) if Printer.SUPPORTED else None)
            data = printer.print_pdf(src, TIMEOUT_S) if printer else print_once(browser, src, TIMEOUT_S)
        except PrintFailed as e:
            if e.timed_out:
                raise MedtorchError(f"cannot write {pdf_path}: {browser} did not finish printing within {TIMEOUT_S} s; "
                                    f"{html_path.name} is written. Retry with medtorch report RUN --pdf.") from None
            data, failure = b"", e
        else:
            failure = None
        finally:
            if own and printer is not None:
                printer.close()
        if not data:
            how = f"exited {failure.returncode}" if failure and failure.returncode is not None else "stopped"
            detail = (failure.stderr or str(failure)) if failure else "it returned an empty document"
            raise MedtorchError(f"cannot write {pdf_path}: {browser} {how} without a PDF ({detail[-300:]}); "
                                f"{html_path.name} is written.")
        write_bytes(pdf_path, data)
    return pdf_path


def start_printer(browser: str | None) -> Printer | None:
    """A browser started now to print later (its start-up overlaps the caller's work); None when
    there is no browser or it cannot start (``write_pdf`` then starts one and reports why it fails)."""
    try:
        return Printer(browser) if browser and Printer.SUPPORTED else None
    except PrintFailed:
        return None
