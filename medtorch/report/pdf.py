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
import subprocess
import tempfile
from pathlib import Path

from medtorch.artefacts import artefact
from medtorch.errors import MedtorchError
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


def write_pdf(html_path: Path, pdf_path: Path, run_id: str, browser: str | None = None) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, footer with run id, report hash and page numbers)."""
    browser = browser or find_browser()
    if browser is None:
        raise MedtorchError(f"cannot write {pdf_path}: " + no_browser_message())
    page = html_path.read_bytes()
    digest = hashlib.sha256(page).hexdigest()
    styled = page.replace(b"</head>", f"<style>{html.escape(_footer_css(run_id, digest), quote=False)}</style></head>"
                          .encode(), 1)
    with tempfile.TemporaryDirectory(prefix="medtorch-pdf-") as tmp:
        src, out = Path(tmp) / html_path.name, Path(tmp) / pdf_path.name
        src.write_bytes(styled)
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer", f"--print-to-pdf={out}",
               src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise MedtorchError(f"cannot write {pdf_path}: {browser} did not finish printing within {TIMEOUT_S} s; "
                                f"{html_path.name} is written. Retry with medtorch report RUN --pdf.") from None
        if not out.is_file() or out.stat().st_size == 0:
            raise MedtorchError(f"cannot write {pdf_path}: {browser} exited {proc.returncode} without a PDF "
                                f"({proc.stderr.strip()[-300:]}); {html_path.name} is written.")
        write_bytes(pdf_path, out.read_bytes())
    return pdf_path
