"""How quick does the explorer feel in a real browser, next to a trivial Streamlit app measured in the same run?

Both apps are started cold (a new ``streamlit run`` process each), in Debian's chromium via playwright:
  * cold start: from launching the server to the first page's content on screen (trivial app: its metric;
    the explorer: the Home page's family table);
  * slider rerun: from a key press on a sidebar slider to the updated figures (trivial app: the metric text;
    the explorer: the Cost page's params metric, and no stale element left), median of several presses.
Targets (issue 3) on a 2-core machine: cold start ≤ 1.5× the trivial app's, slider rerun ≤ 3×.

    python benchmarks/app_speed.py [--presses 6] [--starts 2]
"""

from __future__ import annotations

import argparse
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


VERBOSE = False


def _cold_start(browser, script: str, cwd: Path, ready: str, path: str = "") -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    proc, url = start_server(script, cwd)
    try:
        page.goto(f"{url}/{path}")
        page.get_by_test_id(ready).first.wait_for(state="visible", timeout=120_000)
        return time.perf_counter() - start
    finally:
        context.close()
        stop_server(proc)


def _slider_reruns(browser, script: str, cwd: Path, path: str, metric: str, presses: int) -> list[float]:
    from playwright.sync_api import expect

    proc, url = start_server(script, cwd)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    times = []
    try:
        page.goto(f"{url}/{path}")
        value = page.get_by_test_id("stMetric").filter(has_text=metric).first.get_by_test_id("stMetricValue")
        expect(value).to_be_visible(timeout=120_000)
        if page.get_by_test_id("stPlotlyChart").count():
            expect(page.locator("svg.main-svg").first).to_be_visible(timeout=60_000)
        wait_idle(page, 60_000)
        thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
            has_text="width multiplier").get_by_role("slider")
        for i in range(presses):
            before = value.inner_text()
            thumb.focus()
            start = time.perf_counter()
            thumb.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
            expect(value).not_to_have_text(before, timeout=60_000)
            changed = time.perf_counter() - start
            wait_idle(page, 60_000)
            times.append(time.perf_counter() - start)
            if VERBOSE:
                print(f"  {script} {path}: metric after {changed:.2f} s, idle after {times[-1]:.2f} s")
        return times
    finally:
        context.close()
        stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=6)
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="print every press")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        trivial_dir = Path(tmp)
        (trivial_dir / "trivial.py").write_text(TRIVIAL)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # interleave the two apps so that a busy moment of the machine hits both
        cold = {"trivial": [], "explorer": []}
        for _ in range(args.starts):
            cold["trivial"].append(_cold_start(browser, "trivial.py", trivial_dir, "stMetric"))
            cold["explorer"].append(_cold_start(browser, "app.py", ROOT, "stTable"))
        reruns = {
            "trivial": _slider_reruns(browser, "trivial.py", trivial_dir, "", "params", args.presses),
            "explorer": _slider_reruns(browser, "app.py", ROOT, "cost?model=mobilenet_v2", "params", args.presses),
        }
        browser.close()
    for what, data in (("cold start", cold), ("slider rerun", reruns)):
        trivial, ours = statistics.median(data["trivial"]), statistics.median(data["explorer"])
        limit = 1.5 if what == "cold start" else 3.0
        print(f"{what:13s} trivial {trivial:6.2f} s   explorer {ours:6.2f} s   ratio {ours / trivial:5.2f} "
              f"(target ≤ {limit}) {'ok' if ours / trivial <= limit else 'MISSED'}")
        print(f"{'':13s} runs: trivial {[round(t, 2) for t in data['trivial']]}, "
              f"explorer {[round(t, 2) for t in data['explorer']]}")


if __name__ == "__main__":
    main()
