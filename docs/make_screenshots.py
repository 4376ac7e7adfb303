"""Screenshots of every page of the running app, for the README: `python docs/make_screenshots.py`.

Starts the app on a free port, opens each page in Debian's chromium (the same helpers the browser tests use),
waits for the charts to paint, and writes docs/screenshots/<page>.png. The Latency page is shot after a
measurement, the Predict page with the bundled sample photo's predictions. With ``--present`` it shoots two pages
in projector mode (?present=1) on a 1920×1080 screen instead: docs/screenshots/present_<page>.png, scrolled to
their first chart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import (  # noqa: E402  (tests/ holds the shared browser helpers)
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    open_app,
    start_server,
    stop_server,
    wait_idle,
)

PAGES = {  # file name -> (URL path, what to wait for before the shot)
    "home": ("", "stMarkdown"),
    "architecture": ("architecture", "stGraphVizChart"),
    "channel_shuffle": ("channel_shuffle", "stPlotlyChart"),
    "cost": ("cost", "stMetric"),
    "latency": ("latency", "stMetric"),
    "predict": ("predict", "stPlotlyChart"),
}
PRESENT_PAGES = {  # projector mode: file name -> (URL path, the chart to scroll to)
    "present_cost": ("cost", "[data-testid=stMarkdown] svg"),
    "present_channel_shuffle": ("channel_shuffle", "[data-testid=stPlotlyChart]"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1300)
    parser.add_argument("--query", default="", help="query string for every page, e.g. model=shufflenet_v1")
    parser.add_argument("--present", action="store_true", help="two pages in projector mode (?present=1), 1920×1080")
    args = parser.parse_args()
    if args.present:
        args.width, args.height = 1920, 1080
        args.query = "&".join(q for q in ("present=1", args.query) if q)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    proc, url = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, (path, ready) in (PRESENT_PAGES if args.present else PAGES).items():
                context = browser.new_context(viewport={"width": args.width, "height": args.height})
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                open_app(page, f"{url}/{path}" + (f"?{args.query}" if args.query else ""))
                if name == "latency":
                    page.get_by_role("button", name="Measure latency").click()
                    wait_idle(page, timeout_ms=120_000)
                if args.present:
                    # the chart's top below Streamlit's header, with a little of what is above it
                    page.locator(ready).first.evaluate(
                        "e => { e.scrollIntoView({block: 'start'}); "
                        "document.querySelector('[data-testid=stMain]').scrollBy(0, -140); }")
                else:
                    expect(page.get_by_test_id(ready).first).to_be_visible()
                page.wait_for_timeout(2500)  # plotly and graphviz paint after the run ends
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=False)
                print(f"wrote {target}")
                context.close()
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
