"""The report of a cross-validation root: the folds, the distribution of their validation
metrics, and a link to each fold's own report.

A CV root holds its summary, the distribution plot, its event log and one run
directory per fold; it has no manifest of its own. The summary is checked against the hash the
root's event log recorded when it was written, so a changed summary is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from medtorch.artefacts import artefact
from medtorch.audit import EventLog, file_hashes, utc_now
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.hashing import sha256_file
from medtorch.integrity import require_intact
from medtorch.report.blocks import Image, Link, Para, Table
from medtorch.report.compose import Rendered
from medtorch.report.pdf import find_browser, no_browser_message, write_pdf
from medtorch.report.writers import Header, to_html, to_markdown
from medtorch.run import RunDir, keep_previous_version, original_path, read_json, write_text

SUMMARY, PLOT, EVENTS = artefact("cv_summary"), artefact("cv_distribution_plot"), artefact("cv_events")
MD, HTML, PDF = artefact("cv_report_md"), artefact("cv_report_html"), artefact("cv_report_pdf")


def is_cv_root(path: str | Path) -> bool:
    p = Path(path)
    return SUMMARY.path_in(p).is_file() and not RunDir(p).manifest.is_file()


def _verified_summary(root: Path) -> dict[str, Any]:
    path = SUMMARY.path_in(root)
    recorded = None
    for e in EventLog(EVENTS.path_in(root)).records():
        if e.get("action") == "cv_summarised":
            recorded = (e.get("outputs") or {}).get(SUMMARY.relative(), recorded)
    if recorded is None:
        raise IntegrityError(f"{path}: the CV root's event log records no cv_summarised event; rerun medtorch cv-summary {root}.")
    if sha256_file(path) != recorded:
        raise IntegrityError(f"{path}: sha256 differs from the one recorded in {EVENTS.path_in(root)}; the summary was "
                             f"changed after it was written. Rerun medtorch cv-summary {root}.")
    return read_json(path)


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def cv_sections(root: Path, summary: dict[str, Any]) -> list[Rendered]:
    folds = summary.get("per_fold") or []
    rows = [[f.get("fold"), f.get("val_rows"), _f(f.get("mcc")), _f(f.get("balanced_accuracy")), _f(f.get("auroc")),
             Link(f"{f.get('run_dir')}/{HTML.name}", f"{f.get('run_dir')}/{HTML.name}")] for f in folds]
    dist = summary.get("distribution") or {}
    drows = [[name, _f(d.get("mean")), _f(d.get("sd")), _f(d.get("min")), _f(d.get("max")), d.get("folds_defined")]
             for name, d in dist.items()]
    over = [Para(f"{summary.get('folds')}-fold cross-validation ({summary.get('strategy')}) of one development set "
                 f"(row ids sha256 {str(summary.get('development_ids_sha256'))[:16]}...). Each fold is a complete run "
                 "with its own evidence report; the figures below are each fold's validation rows (the test set is "
                 "not used by cross-validation)."),
            Table(["fold", "validation rows (n)", "MCC", "balanced accuracy", "AUROC", "fold report"], rows,
                  "Folds (validation metrics; each row is one fold's run)")]
    plot = PLOT.path_in(root)
    dblocks: list[Any] = [Table(["metric", "mean", "SD", "lowest fold", "highest fold", "folds defined"], drows,
                                "Distribution across folds (SD with ddof=1)")]
    if plot.is_file():
        dblocks.append(Image(PLOT.relative(), plot.read_bytes(), "Validation metrics across folds"))
    return [Rendered("cv-folds", "Cross-validation folds", over, True),
            Rendered("cv-distribution", "Distribution of fold metrics", dblocks, True)]


def write_cv_report(root: str | Path, pdf: bool | None = None) -> tuple[Path, Path]:
    root = Path(root)
    if not is_cv_root(root):
        raise MedtorchError(f"{root}: not a cross-validation root (expected {SUMMARY.name} and no "
                            f"{RunDir(root).manifest.name}).")
    browser = find_browser() if pdf is not False else None
    if pdf and browser is None:
        raise MedtorchError(f"cannot write {PDF.path_in(root)}: {no_browser_message()}")
    if pdf is None:
        pdf = browser is not None
        if not pdf:
            print(f"medtorch report: {no_browser_message()}", file=sys.stderr, flush=True)
    summary = _verified_summary(root)
    header = Header(f"Evidence report: cross-validation in {root.name}", [
        ("CV root", str(root)), ("folds", str(summary.get("folds"))), ("strategy", str(summary.get("strategy"))),
        ("report written", f"{utc_now()} (UTC)"),
        ("integrity", f"{SUMMARY.name} matches the hash recorded in the root's event log")])
    sections = cv_sections(root, summary)
    md, html, pdf_path = MD.path_in(root), HTML.path_in(root), PDF.path_in(root)
    # the earlier report is checked against the root's log before it moves to versions/: a changed file is
    # refused here (EXIT_INTEGRITY, nothing moved or written), not filed away as a version the log never recorded
    earlier = [p.relative_to(root).as_posix() for p in (md, html, pdf_path) if p.is_file()]
    if earlier:
        require_intact(root, earlier)
    moved = keep_previous_version(root, [md, html, pdf_path])
    write_text(md, to_markdown(header, sections))
    write_text(html, to_html(header, sections))
    if pdf:
        write_pdf(html, pdf_path, f"cv-{root.name}", browser)
    written = [md, html, *([pdf_path] if pdf else [])]
    # an earlier PDF this report did not replace is under versions/ now (see medtorch.report.build)
    removed = [original_path(root, kept).relative_to(root).as_posix() for kept in moved]
    removed = [name for name in removed if root / name not in written]
    EventLog(EVENTS.path_in(root)).append("report_written", {"kind": "cross-validation root",
                                                             **({"removed": removed} if removed else {})},
                                           inputs=file_hashes(root, [SUMMARY.path_in(root)]),
                                           outputs=file_hashes(root, written))
    return md, html
