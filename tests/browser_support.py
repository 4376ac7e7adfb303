"""Shared fixtures and waits for tests that drive the app: in a real browser (Debian chromium + playwright),
and one fix for AppTest.

Registered from conftest.py, so any test module can ask for ``app_url`` (the running app), ``browser`` and
``page`` (a fresh browser context per test = a fresh Streamlit session); ``apptest_runs_app_py`` applies to
every test by itself. The recipe follows
../shared/BROWSER.md: a free port, health polling, the stApp run-state attributes, generous expect timeouts
(plotly's bundle takes seconds to paint on 2 cores).

Without /usr/bin/chromium or playwright the tests skip with the reason, unless LIGHTNETS_REQUIRE_BROWSER=1
(set by .ci/run), where they fail.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
from start_replicas import STREAMLIT_ARGS, stop_process, wait_healthy  # noqa: E402  (deploy/ is scripts, not a package)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The Latency page's button: "Measure again" where another session has already timed this setting (its report is
# shown), "Measure latency" otherwise
MEASURE_BUTTON = re.compile(r"^Measure (latency|again)$")
TIMEOUT_MS = 30_000  # plotly's first paint takes up to ~9 s on 2 cores; leave room for a busy machine
SERVER_START_S = 60


# --------------------------------------------------------------------------------------------------
# AppTest


class _NavigationPagesManager:
    """Stands in for streamlit's PagesManager inside AppTest and declares the app a st.navigation app.

    AppTest forgets before every run that app.py called st.navigation, and with a ``pages/`` folder next to
    app.py it then runs the page script alone (Streamlit's legacy multipage mode). ui.sidebar() recovers
    by rerunning through app.py, but that rerun drops a button click. A server forgets nothing: after the
    first st.navigation call it always runs app.py. This makes AppTest behave like that server.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from streamlit.runtime.pages_manager import PagesManager

        manager = PagesManager(*args, **kwargs)
        PagesManager.uses_pages_directory = False
        return manager


@pytest.fixture(autouse=True)
def apptest_runs_app_py(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AppTest run goes through app.py, as on a server that has served its first page."""
    from streamlit.testing.v1 import app_test

    monkeypatch.setattr(app_test, "PagesManager", _NavigationPagesManager)


# --------------------------------------------------------------------------------------------------
# browser


def _unavailable(reason: str) -> None:
    if os.environ.get("LIGHTNETS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LIGHTNETS_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(script: str = "app.py", cwd: Path = ROOT, log: Any = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run script`` on a free port; return the process and its base URL once healthy.

    ``log``: a binary file object the server's output goes to (default: an unnamed temporary file, so that a
    long-running server never blocks on a full pipe nobody reads)."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
           "--server.address", "127.0.0.1", *STREAMLIT_ARGS]
    if log is None:
        log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def output() -> str:  # pread: the server writes through the same file offset, which must not move
        try:
            fd = log.fileno()
            return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")
        except (OSError, ValueError):
            return "(see the log)"

    try:
        wait_healthy(proc, url, output, time.monotonic() + SERVER_START_S)
    except RuntimeError:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server we started (that PID only)."""
    stop_process(proc)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Base URL of the app, started once per test session from the repo root."""
    proc, url = start_server()
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("python playwright is not installed (pip install playwright)")
    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as err:  # playwright raises its own Error type; report any launch failure the same way
        pw.stop()
        _unavailable(f"chromium did not start: {str(err).splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context: a new Streamlit session per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


# --------------------------------------------------------------------------------------------------
# waits and helpers


def wait_idle(page: Any, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until the session is connected, the script has finished, and no element is stale."""
    from playwright.sync_api import expect

    app = page.locator("[data-testid=stApp]")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout_ms)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)
    expect(page.locator("[data-testid=stStatusWidget]", has_text="Running")).to_have_count(0, timeout=timeout_ms)
    expect(page.locator("[data-testid=stElementContainer][data-stale=true]")).to_have_count(0, timeout=timeout_ms)


def open_app(page: Any, url: str) -> None:
    """Open ``url`` and wait for the first script run to finish and the page's title to show."""
    from playwright.sync_api import expect

    page.goto(url)
    # the run state reads notRunning before the first run starts: wait for content first
    expect(page.get_by_test_id("stMain").get_by_test_id("stHeading").first).to_be_visible()
    wait_idle(page)


def assert_no_exception(page: Any) -> None:
    """No Streamlit exception box anywhere on the page."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def switch_page(page: Any, title: str) -> None:
    """Click the sidebar navigation link with this title and wait for the page's run."""
    from playwright.sync_api import expect

    link = page.get_by_test_id("stSidebarNavLink").filter(has_text=title)
    link.click()
    expect(page.get_by_test_id("stMain").get_by_test_id("stHeading").first).to_be_visible()
    wait_idle(page)


def sidebar_slider(page: Any, label: str) -> Any:
    """The slider element (stSlider) in the sidebar whose label contains ``label``."""
    return page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text=label)


def press_slider(page: Any, label: str, key: str, times: int = 1) -> None:
    """Focus a sidebar slider's thumb and press ``key`` (ArrowRight, End, Home …); each press is a rerun."""
    thumb = sidebar_slider(page, label).get_by_role("slider")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)
        wait_idle(page)


def metric_value(page: Any, label: str) -> str:
    """The text of the st.metric whose label contains ``label``."""
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def list_testids(page: Any) -> list[str]:
    """Every data-testid present (handy when a selector stops matching after a Streamlit upgrade)."""
    return page.eval_on_selector_all("[data-testid]", "els => [...new Set(els.map(e => e.dataset.testid))]")
