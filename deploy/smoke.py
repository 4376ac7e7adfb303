"""Open every page of a running LightNets Explorer in Chromium and fail on any exception box or missing heading.

For a server started some other way than the tests start theirs: a container, replicas behind nginx, a
classroom machine. On the Latency page it also presses Measure, so torch runs inside the server.

    python deploy/smoke.py http://127.0.0.1:8501
    docker run -d -p 8501:8501 lightnets && python deploy/smoke.py http://127.0.0.1:8501

Needs Debian's chromium and Python playwright (requirements.txt), as the browser tests do.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import streamlit.logger  # noqa: E402

streamlit.logger.set_log_level("error")  # ui.navigation's caches warn that no server runs here: none need to
from browser_support import (CHROMIUM, CHROMIUM_ARGS, MEASURE_BUTTON, TIMEOUT_MS, assert_no_exception,  # noqa: E402
                             open_app)
from start_replicas import wait_healthy  # noqa: E402
from ui.navigation import PAGES, url_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the health check")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    wait_healthy(None, base, lambda: "", time.monotonic() + args.wait)

    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    failures = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        for info in PAGES:
            url = f"{base}/{url_path(info)}?lang=en"
            t0 = time.monotonic()
            try:
                open_app(page, url)
                if info.path == "pages/latency.py":
                    page.get_by_role("button", name=MEASURE_BUTTON).click()
                    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=180_000)
                assert_no_exception(page)
            except Exception as err:  # report every page, then fail
                failures.append(f"{info.path}: {str(err).splitlines()[0]}")
                print(f"FAIL {failures[-1]}")
                continue
            print(f"ok   {info.path} ({time.monotonic() - t0:.1f} s)")
        browser.close()
    print(f"{len(PAGES) - len(failures)} of {len(PAGES)} pages without an exception at {base}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
