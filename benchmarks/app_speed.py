"""How quick does the explorer feel in a real browser, next to a trivial Streamlit app measured in the same run?

Both apps run in Debian's chromium via playwright, the trivial one being a title, a sidebar slider and a metric.
Measured, interleaved so that a busy moment of the machine hits both:

* cold start: from launching ``streamlit run`` (a new process each time, so no cache is warm) to the first
  page's content on screen. Content is, for the trivial app, its metric; for the explorer, the Home page's
  family table with one row per registered model (real numbers, from the overview lightnets saved and a test
  checks). Also printed, without a target: when the explorer's first page is complete (sidebar drawn, script
  finished).
* slider rerun: from the key press on the sidebar's "width multiplier" slider to the last change that rerun
  makes to the page: the time of the last DOM mutation in the main area (metrics, tables, plotly's SVG of every
  chart), read after the page has been quiet for a second, once the metric shows the new value and the script
  has finished. The explorer is on its Cost page (totals, op-kind shares, per-layer chart). Every press moves
  to a value not shown before (ArrowLeft from α = 1), so no cache holds that configuration.
* the same slider rerun with the explorer in Chinese (``?lang=zh``, on its own server), interleaved with the
  other two: switching language must not slow a rerun (issue 14).

Targets (issue 3) on a 2-core machine: cold start ≤ 1.5× the trivial app's, slider rerun ≤ 3×, in English and in
Chinese alike; the Chinese rerun's ratio to the English one is printed too.

    python benchmarks/app_speed.py [--starts 3] [--presses 4] [--rounds 2] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_support import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_idle  # noqa: E402

TRIVIAL = '''import streamlit as st

st.title("Trivial app")
x = st.sidebar.slider("width multiplier", 0.25, 2.0, 1.0, 0.05)
st.metric("params", f"{10 * x:.2f} M")
'''
VIEWPORT = {"width": 1400, "height": 1000}
QUIET_S = 1.0  # no mutation for this long: the rerun has finished changing the page

# Installed before each press: the time of the key press and of the last mutation in the main area.
WATCH = """() => {
  const w = window.__watch = {press: null, last: null};
  document.addEventListener('keydown', () => { w.press = w.press ?? performance.now(); }, {capture: true, once: true});
  w.observer = new MutationObserver(() => { w.last = performance.now(); });
  w.observer.observe(document.querySelector('[data-testid=stMain]'),
                     {attributes: true, childList: true, subtree: true, characterData: true});
}"""


def _expect():
    from playwright.sync_api import expect

    return expect


def cold_start(browser, script: str, cwd: Path, rows: int | None) -> tuple[float, float]:
    """Seconds from launching the server to the first content, and to the whole first page (idle)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    proc, url = start_server(script, cwd)
    try:
        page.goto(url)
        if rows is None:
            page.get_by_test_id("stMetric").first.wait_for(state="visible", timeout=120_000)
        else:  # the family table (markdown) with every model's row
            table_rows = page.get_by_test_id("stMain").get_by_test_id("stMarkdown").locator("table tbody tr")
            _expect()(table_rows).to_have_count(rows, timeout=120_000)
        content = time.perf_counter() - start
        if rows is not None:
            _expect()(page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first).to_be_visible(
                timeout=120_000)
        wait_idle(page, 120_000)
        return content, time.perf_counter() - start
    finally:
        context.close()
        stop_server(proc)


class SliderRun:
    """One server and one browser page, on which ``press()`` moves the slider once and times the rerun."""

    def __init__(self, browser, script: str, cwd: Path, path: str, metric: str = "params",
                 slider: str = "width multiplier") -> None:
        self.proc, url = start_server(script, cwd)
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.goto(f"{url}/{path}")
        self.value = self.page.get_by_test_id("stMetric").filter(has_text=metric).first \
            .get_by_test_id("stMetricValue")
        _expect()(self.value).to_be_visible(timeout=120_000)
        if self.page.get_by_test_id("stPlotlyChart").count():  # plotly's first paint takes seconds
            _expect()(self.page.locator("svg.main-svg").first).to_be_visible(timeout=60_000)
        wait_idle(self.page, 60_000)
        time.sleep(QUIET_S)
        self.thumb = self.page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
            has_text=slider).get_by_role("slider")

    def press(self) -> float:
        before = self.value.inner_text()
        self.page.evaluate(WATCH)
        self.thumb.focus()
        self.thumb.press("ArrowLeft")
        _expect()(self.value).not_to_have_text(before, timeout=60_000)
        wait_idle(self.page, 60_000)
        while True:  # wait for a quiet second after the last change
            quiet = self.page.evaluate("() => (performance.now() - (window.__watch.last ?? 0)) / 1000")
            if quiet >= QUIET_S:
                break
            time.sleep(QUIET_S - quiet + 0.05)
        watch = self.page.evaluate("() => { window.__watch.observer.disconnect(); return window.__watch; }")
        return (watch["last"] - watch["press"]) / 1000

    def close(self) -> None:
        self.context.close()
        stop_server(self.proc)


def _chinese_labels() -> tuple[str, str]:
    """The Cost page's params metric and MobileNet V2's α slider, as labelled in Chinese."""
    import lightnets
    from lightnets.i18n import _, use_language

    alpha = next(k for k in lightnets.spec("mobilenet_v2").knobs if k.name == "alpha")
    with use_language("zh"):
        return _("params"), _(alpha.label)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts of each app")
    parser.add_argument("--presses", type=int, default=4, help="slider presses per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of presses, alternating the apps")
    parser.add_argument("--verbose", action="store_true", help="print every measurement")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from lightnets import analysis

    rows = len(analysis.saved_overview())
    print(f"load average at start: {_load()} ({os.cpu_count()} cores)")
    cold = {"trivial": [], "explorer": []}
    full = []
    reruns = {"trivial": [], "explorer": [], "explorer_zh": []}
    metric_zh, slider_zh = _chinese_labels()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        trivial_dir = Path(tmp)
        (trivial_dir / "trivial.py").write_text(TRIVIAL)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(args.starts):
            cold["trivial"].append(cold_start(browser, "trivial.py", trivial_dir, None)[0])
            content, whole = cold_start(browser, "app.py", ROOT, rows)
            cold["explorer"].append(content)
            full.append(whole)
            if args.verbose:
                print(f"  cold start: trivial {cold['trivial'][-1]:.2f} s, explorer {content:.2f} s "
                      f"(whole page {whole:.2f} s)")
        apps = {"trivial": SliderRun(browser, "trivial.py", trivial_dir, ""),
                "explorer": SliderRun(browser, "app.py", ROOT, "cost?model=mobilenet_v2&lang=en"),
                "explorer_zh": SliderRun(browser, "app.py", ROOT, "cost?model=mobilenet_v2&lang=zh", metric_zh,
                                         slider_zh)}
        try:
            for _ in range(args.rounds):
                for name, app in apps.items():
                    for _ in range(args.presses):
                        reruns[name].append(app.press())
                        if args.verbose:
                            print(f"  {name} slider rerun {reruns[name][-1]:.3f} s")
        finally:
            for app in apps.values():
                app.close()
        browser.close()
    print(f"load average at end: {_load()}")
    for what, data, limit in (("cold start", cold, 1.5), ("slider rerun", reruns, 3.0)):
        trivial, ours = statistics.median(data["trivial"]), statistics.median(data["explorer"])
        print(f"{what:13s} trivial {trivial:6.2f} s   explorer {ours:6.2f} s   ratio {ours / trivial:5.2f} "
              f"(target ≤ {limit}) {'ok' if ours / trivial <= limit else 'MISSED'}")
        print(f"{'':13s} runs: trivial {[round(t, 2) for t in data['trivial']]}, "
              f"explorer {[round(t, 2) for t in data['explorer']]}")
    trivial, zh, en = (statistics.median(reruns[k]) for k in ("trivial", "explorer_zh", "explorer"))
    print(f"{'rerun 中文':13s} trivial {trivial:6.2f} s   explorer {zh:6.2f} s   ratio {zh / trivial:5.2f} "
          f"(target ≤ 3.0) {'ok' if zh / trivial <= 3.0 else 'MISSED'};  中文 / English {zh / en:5.2f}")
    print(f"{'':13s} runs: explorer in Chinese {[round(t, 2) for t in reruns['explorer_zh']]}")
    print(f"{'':13s} explorer's first page complete (sidebar drawn, script done): median "
          f"{statistics.median(full):.2f} s, runs {[round(t, 2) for t in full]}")


if __name__ == "__main__":
    main()
