"""How much server memory does one more student cost, and does it come back when students leave?

Starts the app (``streamlit run``, a fresh process), warms it with one session, then opens N real browser
sessions (Debian's chromium via playwright, one context each), ``--concurrent`` at a time; each opens the Cost page
at its own α, then Architecture, Channel shuffle and Predict (a sample photo's top-5). The server's resident
memory (VmRSS of its process, /proc) is read at the start, after the warm-up session, after every batch, at the peak
(sampled every 0.2 s) and at the end, ``--settle`` seconds after every browser session has closed (Streamlit
drops a closed session's state soon after its websocket goes).

    python benchmarks/memory_sessions.py [--sessions 8] [--concurrent 4] [--settle 60]

Prints RSS start / after warm-up / peak / end in MB, the cost per added session ((after all sessions − after
warm-up) / N) and how much of it is left once they closed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_support import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_idle  # noqa: E402

ALPHAS = ["0.5", "0.75", "1", "0.35", "1.3", "0.6", "0.9", "1.4", "0.45", "1.1", "0.8", "0.55", "1.2", "0.65",
          "0.4", "0.7"]
STEPS = [("cost?model=mobilenet_v2&alpha={alpha}", "[data-testid=stMarkdown] svg"),
         ("architecture?model=mobilenet_v2&alpha={alpha}", "[data-testid=stGraphVizChart] svg g.node"),
         ("channel_shuffle", "[data-testid=stPlotlyChart] svg.main-svg"),
         ("predict", "[data-testid=stPlotlyChart] svg.main-svg")]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Peak:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> "Peak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def lesson(browser, url: str, alpha: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        for path, selector in STEPS:
            page.goto(f"{url}/{path.format(alpha=alpha)}")
            expect(page.locator(selector).first).to_be_visible(timeout=120_000)
            wait_idle(page, 120_000)
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--concurrent", type=int, default=4, help="browser sessions open at the same time")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait after the last one closed")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        start = rss_mb(proc.pid)
        with Peak(proc.pid) as peak:
            lesson(browser, url, "1")
            time.sleep(5)
            warm = rss_mb(proc.pid)
            print(f"start {start:.0f} MB, after one warm-up session {warm:.0f} MB", flush=True)
            done = 0
            while done < args.sessions:
                batch = min(args.concurrent, args.sessions - done)
                # playwright's sync API is not thread-safe: the batch's contexts run one after the other within
                # the batch, but they are all open (their Streamlit sessions alive) until the batch ends
                contexts = []
                for k in range(batch):
                    context = browser.new_context(viewport={"width": 1200, "height": 900})
                    page = context.new_page()
                    alpha = ALPHAS[(done + k) % len(ALPHAS)]
                    for path, selector in STEPS:
                        page.goto(f"{url}/{path.format(alpha=alpha)}")
                        from playwright.sync_api import expect

                        expect(page.locator(selector).first).to_be_visible(timeout=120_000)
                        wait_idle(page, 120_000)
                    contexts.append(context)
                done += batch
                print(f"{done} sessions open or done: {rss_mb(proc.pid):.0f} MB", flush=True)
                if done >= args.sessions:
                    loaded = rss_mb(proc.pid)
                for context in contexts:
                    context.close()
            time.sleep(args.settle)
            end = rss_mb(proc.pid)
        per = (loaded - warm) / args.sessions
        print(f"RSS start {start:.0f} MB · after warm-up {warm:.0f} MB · with the last sessions open {loaded:.0f} MB "
              f"· peak {peak.peak:.0f} MB · end ({args.settle:.0f} s after all closed) {end:.0f} MB")
        print(f"per added session {per:.1f} MB; left after they closed {end - warm:.0f} MB "
              f"({(end - warm) / max(loaded - warm, 1e-9):.0%} of what they added)")
    finally:
        browser.close()
        pw.stop()
        stop_server(proc)


if __name__ == "__main__":
    main()
