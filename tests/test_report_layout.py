"""The default run's report in a real browser at 1400 px and at A4 width: no horizontal
overflow, every plot fits its column and overlaps nothing, no JSON or Python repr in any
rendered table cell; screenshots are kept in test-artifacts/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from chromium import Chromium, find_or_install_chromium
from conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
A4_PX = 794  # 210 mm at 96 px per inch

LAYOUT = """(() => {
  const doc = document.documentElement;
  const imgs = [...document.images].map(i => { const r = i.getBoundingClientRect(); const p = i.parentElement.getBoundingClientRect();
      return {alt: i.alt, x: r.left, y: r.top + scrollY, w: r.width, h: r.height, fits: r.right <= p.right + 1 && r.width > 0}; });
  const overlaps = [];
  for (let a = 0; a < imgs.length; a++) for (let b = a + 1; b < imgs.length; b++) {
    const p = imgs[a], q = imgs[b];
    if (p.x < q.x + q.w - 1 && q.x < p.x + p.w - 1 && p.y < q.y + q.h - 1 && q.y < p.y + p.h - 1) overlaps.push([p.alt, q.alt]);
  }
  const cells = [...document.querySelectorAll('td, th')].map(c => c.innerText);
  const wide = [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > doc.clientWidth + 1).length;
  return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, imgs, overlaps, wide,
          reprs: cells.filter(t => t.includes('{"') || t.includes("{'")), height: doc.scrollHeight};
})()"""


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


@pytest.mark.slow
@pytest.mark.parametrize("width", [1400, A4_PX])
def test_report_fits_the_page_and_its_plots_overlap_nothing(browser, default_run, width):
    session = browser.open("about:blank")
    browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 1000, "deviceScaleFactor": 1,
                                                        "mobile": False}, session=session)
    browser.send("Page.navigate", {"url": (default_run / "report.html").resolve().as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired", session)
    facts = browser.evaluate(session, LAYOUT)
    assert facts["scrollWidth"] <= facts["clientWidth"] + 1, f"horizontal overflow at {width} px: {facts['scrollWidth']}"
    assert facts["wide"] == 0, f"{facts['wide']} table(s) wider than the page at {width} px"
    assert facts["imgs"] and all(i["fits"] for i in facts["imgs"]), [i["alt"] for i in facts["imgs"] if not i["fits"]]
    assert not facts["overlaps"], facts["overlaps"]
    assert not facts["reprs"], facts["reprs"][:3]
    shot = browser.screenshot(session, ARTIFACTS / f"report_default_{width}px.png")
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
@pytest.mark.parametrize("width", [1400, A4_PX])
def test_the_appendix_fits_the_page_and_links_back_to_the_report(browser, default_run, width):
    session = browser.open("about:blank")
    browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 1000, "deviceScaleFactor": 1,
                                                        "mobile": False}, session=session)
    browser.send("Page.navigate", {"url": (default_run / "report_appendix.html").resolve().as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired", session)
    facts = browser.evaluate(session, LAYOUT)
    assert facts["scrollWidth"] <= facts["clientWidth"] + 1, f"horizontal overflow at {width} px: {facts['scrollWidth']}"
    assert facts["wide"] == 0 and not facts["reprs"], facts
    links = browser.evaluate(session, "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
    assert "report.html" in links
    assert all((default_run / href).is_file() for href in links if not href.startswith("#")), links
    browser.screenshot(session, ARTIFACTS / f"report_appendix_{width}px.png")
