"""report.html in a real browser (Debian's headless Chromium): it renders, every image loads,
no link is broken, nothing is fetched from outside the page, and a screenshot is kept in
test-artifacts/ for a reviewer to look at."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from chromium import Chromium, find_or_install_chromium
from conftest import REPO, run_cli
from medtorch.report.sections import SECTIONS

ARTIFACTS = REPO / "test-artifacts"

PAGE_FACTS = """(() => ({
  title: document.title,
  sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
  textLength: document.body.innerText.length,
  tables: document.querySelectorAll('table').length,
  images: [...document.images].map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0,
                                          width: i.naturalWidth, data: i.src.startsWith('data:image/')})),
  links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'), url: a.href,
            target: a.getAttribute('href').startsWith('#') ? !!document.getElementById(a.getAttribute('href').slice(1)) : null})),
}))()"""


@pytest.fixture(scope="module")
def browser():
    exe, why = find_or_install_chromium()
    if exe is None:
        pytest.skip(f"no headless browser: {why}")
    profile = Path(tempfile.mkdtemp(prefix="medtorch-chromium-"))
    chrome = Chromium(exe, profile)
    yield chrome
    chrome.close()
    shutil.rmtree(profile, ignore_errors=True)


def _check_page(browser: Chromium, report: Path, screenshot: str) -> dict:
    session = browser.open(report.resolve().as_uri())
    facts = browser.evaluate(session, PAGE_FACTS)
    assert facts["title"].startswith("Evidence report:")
    assert facts["sections"] == [s.key for s in SECTIONS] + ["traceability"]
    assert facts["textLength"] > 2000 and facts["tables"] >= 10
    assert facts["images"], "the report shows no image"
    broken = [i["alt"] for i in facts["images"] if not (i["loaded"] and i["data"])]
    assert not broken, f"images that did not load (or are not embedded): {broken}"
    for link in facts["links"]:
        if link["href"].startswith("#"):
            assert link["target"], f"link {link['href']} points to no element"
        else:  # a link into the run directory must point at a file that exists there
            url = urlparse(link["url"])
            assert url.scheme == "file" and Path(unquote(url.path)).is_file(), f"broken link {link['href']}"
    fetched = browser.requested_urls(session)
    outside = [u for u in fetched if not (u.startswith("data:") or u == report.resolve().as_uri())]
    assert not outside, f"the page fetched something besides itself: {outside}"
    shot = browser.screenshot(session, ARTIFACTS / screenshot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    return facts


@pytest.mark.slow
def test_default_report_renders_in_chromium(browser, default_run):
    facts = _check_page(browser, default_run / "report.html", "report_default_run.png")
    assert len(facts["images"]) >= 3  # two confusion matrices and the training curves
    assert sum(1 for link in facts["links"] if link["href"] == "#eda") >= 2  # contents and traceability


@pytest.mark.slow
def test_report_with_feature_artefacts_renders_in_chromium(browser, default_run, tmp_path):
    from test_report import record

    run = tmp_path / "run"
    shutil.copytree(default_run, run)
    png = (run / "plots" / "confusion_val_counts.png").read_bytes()
    record(run, "explained", {"explain/summary.md": "# Explanations\n\n![attributions](plots/attr.png)\n\n"
                                                    "[the data](../explain/explanation.json)\n",
                              "explain/explanation.json": {"top": {"mean radius": 0.3}},
                              "explain/plots/attr.png": png})
    assert run_cli("report", str(run)).returncode == 0
    facts = _check_page(browser, run / "report.html", "report_with_explanations.png")
    assert "attributions" in [i["alt"] for i in facts["images"]]


@pytest.mark.slow
def test_the_checks_catch_a_broken_image_and_a_dangling_link(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><section id="a">'
                    '<img alt="bad" src="data:image/png;base64,AAAA"><a href="#nowhere">x</a></section></body></html>')
    facts = browser.evaluate(browser.open(page.as_uri()), PAGE_FACTS)
    assert facts["images"] == [{"alt": "bad", "loaded": False, "width": 0, "data": True}]
    assert facts["links"][0]["target"] is False
