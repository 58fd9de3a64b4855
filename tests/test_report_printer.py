"""The PDF report through a browser started early and driven over the DevTools protocol: the same
pages as ``chromium --print-to-pdf``; a browser that fails or hangs is reported as before (the
HTML still written and recorded, the PDF not, nothing left running); in a run, the PDF is
written, recorded with its hash in the report's event, and the run still verifies."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import run_cli
from medtorch.errors import MedtorchError
from medtorch.report import pdf as pdf_mod
from medtorch.report import printer as printer_mod
from medtorch.report.pdf import find_browser, write_pdf

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title><style>
@page{size:A4;margin:12mm 11mm 14mm 11mm}body{font-family:sans-serif}.box{background:#eef2f7;padding:1em}
h2{break-before:page}</style></head><body><h1>Report</h1><div class="box">shaded background</div>
<p>%s</p><h2>Second page</h2><table><tr><th>a</th><td>1</td></tr></table></body></html>""" % ("text " * 400)


def _browser() -> str:
    exe = find_browser()
    if exe is None:
        pytest.skip("no headless Chromium on PATH")
    return exe


def _fake(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "fake-chromium"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(0o755)
    return exe


def _pages(pdf: Path, out: Path) -> tuple[str, list[bytes]]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(out)], check=True)
    return text, [p.read_bytes() for p in sorted(out.parent.glob(out.name + "*.png"))]


def test_the_early_started_browser_prints_the_pages_chromium_print_to_pdf_prints(tmp_path):
    exe = _browser()
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        pytest.skip("poppler-utils (pdftotext, pdftoppm) not installed")
    html = tmp_path / "page.html"
    html.write_text(PAGE)
    ours = write_pdf(html, tmp_path / "ours.pdf", "run-0123456789ab", exe)
    # the command the report used before: the same footer CSS, printed by --print-to-pdf
    styled = tmp_path / "styled" / "page.html"
    styled.parent.mkdir()
    css = pdf_mod._footer_css("run-0123456789ab", hashlib.sha256(html.read_bytes()).hexdigest())
    styled.write_text(PAGE.replace("</head>", f"<style>{css}</style></head>", 1))
    theirs = tmp_path / "theirs.pdf"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer", f"--print-to-pdf={theirs}",
                    styled.as_uri()], capture_output=True, timeout=120, check=True)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    text_ours, pages_ours = _pages(ours, tmp_path / "a" / "p")
    text_theirs, pages_theirs = _pages(theirs, tmp_path / "b" / "p")
    assert len(pages_ours) == 2 and "page 1 of 2" in text_ours and "run run-01234567" in text_ours
    assert text_ours == text_theirs
    assert pages_ours == pages_theirs  # pixel for pixel: paper, margins, background, footer


def test_a_browser_that_exits_without_a_pdf_is_reported_with_its_exit_code_and_last_words(tmp_path):
    exe = _fake(tmp_path, 'echo "cannot open display: the GPU process crashed" >&2; exit 3')
    html = tmp_path / "report.html"
    html.write_text(PAGE)
    with pytest.raises(MedtorchError) as e:
        write_pdf(html, tmp_path / "report.pdf", "run", str(exe))
    assert f"{exe} exited 3 without a PDF" in str(e.value) and "the GPU process crashed" in str(e.value)
    assert "report.html is written" in str(e.value)
    assert not (tmp_path / "report.pdf").exists()


def test_a_browser_that_never_answers_times_out_and_is_killed(tmp_path, monkeypatch):
    exe = _fake(tmp_path, f"echo $$ > {tmp_path / 'pid'}; exec sleep 120")
    monkeypatch.setattr(pdf_mod, "TIMEOUT_S", 1)
    monkeypatch.setattr(printer_mod, "CLOSE_S", 0.5)
    html = tmp_path / "report.html"
    html.write_text(PAGE)
    private = tmp_path / "tmp"  # this test's own temporary folder: other processes' profiles are not its business
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    start = time.monotonic()
    with pytest.raises(MedtorchError, match="did not finish printing within 1 s; report.html is written"):
        write_pdf(html, tmp_path / "report.pdf", "run", str(exe))
    assert time.monotonic() - start < 10
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists(), "the hung browser is still running"
    assert not (tmp_path / "report.pdf").exists()
    assert not list(private.iterdir()), "a browser profile was left"


@pytest.mark.slow
def test_in_a_run_the_pdf_is_written_recorded_and_verified_and_a_failing_browser_leaves_the_html(
        default_run, tmp_path, monkeypatch):
    _browser()
    from medtorch.report.build import write_report

    run = tmp_path / "run"
    shutil.copytree(default_run, run)
    write_report(run)
    event = read_json_lines(run / "events.jsonl")[-1]
    assert event["action"] == "report_written"
    pdf = (run / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert event["outputs"]["report.pdf"] == hashlib.sha256(pdf).hexdigest()
    assert run_cli("audit", "verify", str(run)).returncode == 0

    monkeypatch.setenv("MEDTORCH_CHROMIUM", str(_fake(tmp_path, "echo 'no display' >&2; exit 5")))
    with pytest.raises(MedtorchError, match="exited 5 without a PDF"):
        write_report(run, pdf=True)  # required: the failure is raised, after the HTML is recorded
    event = read_json_lines(run / "events.jsonl")[-1]
    assert event["action"] == "report_written" and "report.html" in event["outputs"]
    assert "report.pdf" not in event["outputs"] and not (run / "report.pdf").exists()
    assert event["outputs"]["report.html"] == hashlib.sha256((run / "report.html").read_bytes()).hexdigest()


def read_json_lines(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


def test_without_posix_spawn_one_print_to_pdf_command_prints_and_fails_the_same_way(tmp_path, monkeypatch):
    monkeypatch.setattr(printer_mod.Printer, "SUPPORTED", False)
    html = tmp_path / "report.html"
    html.write_text(PAGE)
    exe = _fake(tmp_path, 'echo "no display" >&2; exit 4')
    with pytest.raises(MedtorchError, match=r"exited 4 without a PDF \(no display\); report.html is written"):
        write_pdf(html, tmp_path / "report.pdf", "run", str(exe))
    assert pdf_mod.start_printer(str(exe)) is None
    pdf = write_pdf(html, tmp_path / "report.pdf", "run", _browser()).read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf
