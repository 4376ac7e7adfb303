"""A classroom on one server: N real Chromium sessions doing a scripted lesson at once, and what they see.

Each session (a browser context of its own, so a Streamlit session of its own) opens the app and does a lesson,
again and again until the duration is up (the lesson under way is finished): the Architecture page, α and ρ moved, another family picked, the Cost page with α
moved, the Latency page's Measure button, the Predict page with a photo uploaded. Sessions start half a second
apart, as a class opening a link in the same minute does.

Reported:

* errors: Streamlit exception boxes seen after any step (must be 0), and steps that did not finish in time;
* slider → updated figure: from the key press on a sidebar slider to the figure of that rerun changed on screen
  (the block graph's SVG on Architecture, the per-layer drawing on Cost) with the script finished and nothing
  stale: p50 / p95 / max, per page;
* a new session's first complete page (Home: the family table, the sidebar drawn, the script finished), for each
  of the N sessions while the others join and work;
* the explorer's and a trivial Streamlit app's (benchmarks/trivial_app.py) first complete page on warm, quiet
  servers, measured side by side and interleaved before the class starts, and the ratio (target ≤ 1.5×);
* the server's CPU time over the class, per step and per lesson, and from it how many students one core keeps up
  with at a student's pace of one step every ``STUDENT_PACE_S`` seconds (``--no-measure`` leaves the Measure press
  out, to tell browsing from timing); the browsers run on the same cores, so this counts the server only;
* the server's resident memory: at the start (warm: one session has done the whole lesson once and left), the peak, with every session open, right after
  they close and after Streamlit has dropped their state (``server.disconnectedSessionTTL``, 120 s by default:
  ``--settle``), and the memory one more session costs.

    python benchmarks/classroom.py [--sessions 8] [--duration 180] [--rounds 3] [--settle 130] [--no-measure]
                                   [--json out.json]
    python benchmarks/classroom.py --smoke          # 2 sessions, 30 s, settle 10 s: checks the script works
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_support import CHROMIUM, CHROMIUM_ARGS, MEASURE_BUTTON, start_server, stop_server  # noqa: E402
from lightnets.latency import quantile  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
STEP_TIMEOUT_MS = 180_000  # a step slower than this on a crowded server counts as failed
MEASURE_TIMEOUT_MS = 600_000  # the Latency page's button waits for every measurement before it
PHOTO = ROOT / "lightnets" / "data" / "samples" / "cat.jpg"
FAMILIES = ("mobilenet_v3_small", "mobilenet_v1", "ghostnet", "mobilenet_v2")  # the family switch, in turn (each has α)

IDLE = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  return !!app && app.dataset.testConnectionState === 'CONNECTED' && app.dataset.testScriptState === 'notRunning'
    && !document.querySelector('[data-testid=stElementContainer][data-stale=true]')
    && ![...document.querySelectorAll('[data-testid=stStatusWidget]')].some(e => e.textContent.includes('Running'));
}"""
# the figure under ``selector`` shows something else than ``before`` and the rerun is over
CHANGED = "([selector, before]) => { const el = document.querySelector(selector); " \
          "return !!el && el.textContent !== before && (" + IDLE + ")(); }"
HOME_DONE = "(rows) => document.querySelectorAll('[data-testid=stMain] [data-testid=stMarkdown] table tbody tr')" \
            ".length >= rows && !!document.querySelector('[data-testid=stSidebar] [data-testid=stSlider]') && (" \
            + IDLE + ")()"
TRIVIAL_DONE = "() => !!document.querySelector('[data-testid=stMetric]') && (" + IDLE + ")()"
GRAPH = "[data-testid=stGraphVizChart] svg"
# a student's pace for the capacity estimate: one step (a page, a slider move, a press) every this many seconds
STUDENT_PACE_S = 20
LAYERS = "[data-testid=stMarkdown] svg"


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU time (user + system, every thread) one process has used so far, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def start(script: str, log: Path) -> tuple[subprocess.Popen, str]:
    with log.open("wb") as out:  # the server keeps its own descriptor
        return start_server(script, ROOT, log=out)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), NaN for no values."""
    return quantile(sorted(values), q / 100) if values else float("nan")


@dataclass
class Tally:
    """What every session saw, gathered in one place (one event loop: no locks needed)."""

    exceptions: int = 0
    failed: list[str] = field(default_factory=list)
    slider: dict[str, list[float]] = field(default_factory=dict)
    first_page: list[float] = field(default_factory=list)
    measure: list[float] = field(default_factory=list)
    predict: list[float] = field(default_factory=list)
    lessons: int = 0
    steps: int = 0  # finished steps that make the server work: page opens, slider moves, picks, presses, uploads


class Student:
    def __init__(self, number: int, browser: Any, url: str, models: int, tally: Tally, measure: bool = True) -> None:
        self.number, self.browser, self.url, self.models, self.tally = number, browser, url, models, tally
        self.measure = measure
        self.family = number % len(FAMILIES)
        self.direction = "ArrowLeft"
        self.step = "first page"

    async def _idle(self, timeout: int = STEP_TIMEOUT_MS) -> None:
        await self.page.wait_for_function(IDLE, timeout=timeout)

    async def _check(self) -> None:
        found = await self.page.locator("[data-testid=stException]").count()
        self.tally.exceptions += found

    async def _page(self, title: str) -> None:
        self.step = f"open {title}"
        link = self.page.get_by_test_id("stSidebarNavLink").filter(has_text=title)
        await link.click()
        heading = self.page.get_by_test_id("stMain").get_by_test_id("stHeading").first
        await heading.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
        await self._idle()
        self.tally.steps += 1

    async def _slider(self, where: str, label: str, figure: str) -> None:
        """Press a sidebar slider's arrow key; time until ``figure`` shows the rerun's result."""
        self.step = f"{where} slider"
        await self.page.locator(figure).first.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
        before = await self.page.locator(figure).first.text_content()
        thumb = self.page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text=label) \
            .get_by_role("slider")
        await thumb.focus()
        start = time.perf_counter()
        await thumb.press(self.direction)
        await self.page.wait_for_function(CHANGED, arg=[figure, before], timeout=STEP_TIMEOUT_MS)
        self.tally.slider.setdefault(where, []).append(time.perf_counter() - start)
        self.tally.steps += 1

    async def _pick_family(self) -> None:
        import lightnets

        self.family = (self.family + 1) % len(FAMILIES)
        spec = lightnets.spec(FAMILIES[self.family])
        self.step = f"pick {spec.name}"
        await self.page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
        await self.page.get_by_role("option", name=f"{spec.title} ({spec.paper.year})").click()
        await self.page.wait_for_timeout(100)
        await self._idle()
        self.tally.steps += 1

    async def lesson(self) -> None:
        await self._page("Architecture")
        await self._slider("Architecture, α", "width multiplier", GRAPH)
        await self._slider("Architecture, ρ", "resolution multiplier", GRAPH)
        await self._check()
        await self._pick_family()
        await self._check()
        await self._page("Cost")
        await self._slider("Cost, ρ", "resolution multiplier", LAYERS)
        await self._check()
        await self._page("Latency")
        if self.measure:
            start = time.perf_counter()
            self.step = "Measure latency"
            await self.page.get_by_role("button", name=MEASURE_BUTTON).click()
            await self.page.wait_for_timeout(300)
            await self._idle(MEASURE_TIMEOUT_MS)
            self.tally.measure.append(time.perf_counter() - start)
            self.tally.steps += 1
            await self._check()
        await self._page("Predict")
        start = time.perf_counter()
        self.step = "upload a photo"
        await self.page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(PHOTO))
        await self.page.get_by_test_id("stFileChipName").filter(has_text=PHOTO.name).first.wait_for(
            timeout=STEP_TIMEOUT_MS)
        await self.page.wait_for_timeout(300)
        await self._idle()
        await self.page.get_by_test_id("stPlotlyChart").first.wait_for(timeout=STEP_TIMEOUT_MS)
        self.tally.predict.append(time.perf_counter() - start)
        self.tally.steps += 1
        await self._check()
        # back for the next round: a fresh start on the Architecture page, the other way along the sliders
        self.direction = "ArrowRight" if self.direction == "ArrowLeft" else "ArrowLeft"
        self.tally.lessons += 1

    async def run(self, until: float) -> None:
        self.context = await self.browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(STEP_TIMEOUT_MS)  # clicks too: every step has the same allowance
        self.page = await self.context.new_page()
        try:
            start = time.perf_counter()
            await self.page.goto(self.url, timeout=STEP_TIMEOUT_MS)
            await self.page.wait_for_function(HOME_DONE, arg=self.models, timeout=STEP_TIMEOUT_MS)
            self.tally.first_page.append(time.perf_counter() - start)
            await self._check()
            while True:  # at least one lesson; then as many as the duration holds
                try:
                    await self.lesson()
                except Exception as err:  # playwright's TimeoutError and friends: counted, then go on
                    self.tally.failed.append(f"session {self.number}, {self.step}: {str(err).splitlines()[0][:160]}")
                    await self._check()
                    await self.page.goto(self.url, timeout=STEP_TIMEOUT_MS)
                if time.monotonic() >= until:
                    break
        except Exception as err:
            self.tally.failed.append(f"session {self.number} (first page): {str(err).splitlines()[0][:160]}")
        finally:
            await self.context.close()


async def first_page(browser: Any, url: str, done: str, arg: Any = None) -> float:
    """Seconds from opening ``url`` in a new context (a new session) to its complete first page."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    try:
        start = time.perf_counter()
        await page.goto(url, timeout=STEP_TIMEOUT_MS)
        await page.wait_for_function(done, arg=arg, timeout=STEP_TIMEOUT_MS)
        return time.perf_counter() - start
    finally:
        await context.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    import lightnets

    models = len(lightnets.list_models())
    logs = Path(tempfile.mkdtemp(prefix="lightnets-classroom-"))
    explorer, url = start("app.py", logs / "explorer.log")
    trivial, trivial_url = start(str(ROOT / "benchmarks" / "trivial_app.py"), logs / "trivial.log")
    out: dict[str, Any] = {"sessions": args.sessions, "duration_s": args.duration, "cores": os.cpu_count(),
                           "load_start": os.getloadavg()}
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # warm both servers: the trivial app with one page, the explorer with one whole lesson (imports,
            # weights, caches), so that the class's figures leave out what is done once per server
            await first_page(browser, trivial_url, TRIVIAL_DONE)
            warm = Tally()
            await Student(-1, browser, url, models, warm).run(time.monotonic())  # one lesson, then stop
            if warm.exceptions or warm.failed:
                print(f"classroom: the warm-up lesson saw {warm.exceptions} exception boxes, failures {warm.failed}")
            quiet = {"explorer": [], "trivial": []}
            for _ in range(args.rounds):  # interleaved: a busy moment of the machine hits both
                quiet["trivial"].append(await first_page(browser, trivial_url, TRIVIAL_DONE))
                quiet["explorer"].append(await first_page(browser, url, HOME_DONE, models))
            out["quiet_first_page_s"] = quiet
            await asyncio.sleep(3)  # let the warm-up's sessions go
            rss = {"start": rss_mb(explorer.pid)}
            samples: list[float] = []
            tally = Tally()
            until = time.monotonic() + args.duration
            students = [Student(i, browser, url, models, tally, not args.no_measure) for i in range(args.sessions)]
            cpu_start, class_start = cpu_s(explorer.pid), time.monotonic()

            async def sample() -> None:
                while True:
                    samples.append(rss_mb(explorer.pid))
                    await asyncio.sleep(1)

            sampler = asyncio.create_task(sample())
            tasks = []
            for student in students:
                tasks.append(asyncio.create_task(student.run(until)))
                await asyncio.sleep(args.stagger)
            # every session has its first page (or failed it): what N open sessions hold
            while len(tally.first_page) + len(tally.failed) < args.sessions and time.monotonic() < until:
                await asyncio.sleep(0.5)
            rss["all_open"] = rss_mb(explorer.pid)
            await asyncio.gather(*tasks)
            cpu = {"server_s": cpu_s(explorer.pid) - cpu_start, "wall_s": time.monotonic() - class_start}
            rss["peak"] = max(samples + [rss_mb(explorer.pid)])
            rss["closed"] = rss_mb(explorer.pid)
            sampler.cancel()
            await asyncio.sleep(args.settle)
            rss["settled"] = rss_mb(explorer.pid)
            await browser.close()
    finally:
        stop_server(explorer)
        stop_server(trivial)
    out.update(load_end=os.getloadavg(), rss_mb=rss, cpu=cpu, steps=tally.steps, measured=not args.no_measure,
               exceptions=tally.exceptions, failed=tally.failed,
               lessons=tally.lessons, slider_s=tally.slider, first_page_under_load_s=tally.first_page,
               measure_s=tally.measure, predict_s=tally.predict,
               mb_per_session=(rss["all_open"] - rss["start"]) / args.sessions,
               mb_per_session_peak=(rss["peak"] - rss["start"]) / args.sessions,
               mb_left_after=rss["settled"] - rss["start"])
    return out


def report(out: dict[str, Any]) -> None:
    ms = lambda values, q: 1000 * pct(values, q)  # noqa: E731
    print(f"classroom: {out['sessions']} sessions × {out['duration_s']:.0f} s on {out['cores']} cores; "
          f"load average {out['load_start'][0]:.1f} at the start, {out['load_end'][0]:.1f} at the end; "
          f"{out['lessons']} lessons completed")
    print(f"errors: {out['exceptions']} exception boxes, {len(out['failed'])} steps not finished in time "
          f"{'(ok)' if not out['exceptions'] and not out['failed'] else '(MUST BE 0)'}")
    for line in out["failed"][:10]:
        print(f"   {line}")
    print("slider → updated figure:      p50      p95      max    n")
    for where, values in sorted(out["slider_s"].items()):
        print(f"  {where:24s} {ms(values, 50):6.0f} ms {ms(values, 95):6.0f} ms {1000 * max(values):6.0f} ms "
              f"{len(values):4d}")
    fp = out["first_page_under_load_s"]
    print(f"new session's first complete page while the class works: p50 {pct(fp, 50):.2f} s, "
          f"p95 {pct(fp, 95):.2f} s (n = {len(fp)})")
    for name, values in (("Measure latency (press → done)", out["measure_s"]),
                         ("photo upload → top-5", out["predict_s"])):
        if values:
            print(f"{name}: p50 {pct(values, 50):.2f} s, p95 {pct(values, 95):.2f} s, max {max(values):.2f} s "
                  f"(n = {len(values)})")
    quiet = out["quiet_first_page_s"]
    ours, peer = statistics.median(quiet["explorer"]), statistics.median(quiet["trivial"])
    print(f"first complete page on a warm, quiet server: explorer {ours:.2f} s, trivial app {peer:.2f} s, "
          f"ratio {ours / peer:.2f} (target ≤ 1.5) {'ok' if ours / peer <= 1.5 else 'MISSED'}; runs: explorer "
          f"{[round(t, 2) for t in quiet['explorer']]}, trivial {[round(t, 2) for t in quiet['trivial']]}")
    cpu, steps = out["cpu"], max(out["steps"], 1)
    per_step = cpu["server_s"] / steps
    print(f"server CPU: {cpu['server_s']:.0f} s in {cpu['wall_s']:.0f} s ({cpu['server_s'] / cpu['wall_s']:.2f} cores "
          f"on average) for {out['steps']} steps{'' if out['measured'] else ' (no latency measurements)'}: "
          f"{per_step:.2f} CPU-s per step, {cpu['server_s'] / max(out['lessons'], 1):.1f} per lesson; at one "
          f"step per {STUDENT_PACE_S} s per student, one core keeps up with {STUDENT_PACE_S / per_step:.0f} students "
          f"(at full use: reruns then queue)")
    rss = out["rss_mb"]
    print(f"server memory (RSS): start {rss['start']:.0f} MB, all {out['sessions']} open {rss['all_open']:.0f} MB, "
          f"peak {rss['peak']:.0f} MB, just closed {rss['closed']:.0f} MB, after settling {rss['settled']:.0f} MB; "
          f"{out['mb_per_session']:.1f} MB per added session with its first page open "
          f"({out['mb_per_session_peak']:.1f} MB at the peak), {out['mb_left_after']:+.0f} MB left after they left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help="browser sessions at once (default 8)")
    parser.add_argument("--duration", type=float, default=180, help="seconds of lessons (default 180)")
    parser.add_argument("--rounds", type=int, default=3, help="quiet first-page measurements of each app "
                        "(default 3)")
    parser.add_argument("--stagger", type=float, default=0.5, help="seconds between sessions joining (default 0.5)")
    parser.add_argument("--settle", type=float, default=130, help="seconds after the class before the last "
                        "memory reading (default 130: Streamlit keeps a closed session's state for 120 s)")
    parser.add_argument("--no-measure", action="store_true", help="leave out the Latency page's Measure press "
                        "(what browsing alone costs the server)")
    parser.add_argument("--smoke", action="store_true", help="2 sessions, 30 s, 1 round, settle 10 s")
    parser.add_argument("--json", type=Path, help="also write every figure and measurement here")
    args = parser.parse_args()
    if args.smoke:
        args.sessions, args.duration, args.rounds, args.settle = 2, 30, 1, 10
    for name in ("sessions", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.duration <= 0 or args.settle < 0 or args.stagger < 0:
        parser.error("--duration must be positive, --settle and --stagger not negative")
    if not Path(CHROMIUM).exists():
        parser.exit(2, f"classroom: {CHROMIUM} is missing (apt-get install chromium)\n")
    out = asyncio.run(main_async(args))
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
