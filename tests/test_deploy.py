"""deploy/: two replicas of the app behind Debian's nginx, driven by real browser sessions through the proxy.

What it checks, as a class would live it: every session stays on one replica for all its requests (page, static
files, the WebSocket), both replicas serve, and when one replica stops in the middle of the lesson only its own
sessions lose their connection; the others carry on in the same session (an upload included), and the lost ones
work again after a reload, served by the other replica. And deploy/smoke.py, the check for a server started another
way (a container), passes against the tests' server.

Skipped with the reason when nginx (or chromium) is missing; a failure instead under LIGHTNETS_REQUIRE_BROWSER=1,
which .ci/run sets after installing both.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

import lightnets
from browser_support import (TIMEOUT_MS, _unavailable, assert_no_exception, press_slider, sidebar_slider, switch_page,
                             wait_idle)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))

import start_replicas  # noqa: E402  (deploy/ is scripts, not a package)

pytestmark = pytest.mark.browser
HEADER = "x-lightnets-replica"
PER_REPLICA = 2  # sessions on each replica
FIRST_PAGE_MS = 120_000
PHOTO = ROOT / "lightnets" / "data" / "samples" / "cat.jpg"
LOG_LINE = re.compile(r'^(?P<msec>\S+) (?P<key>\S+) "(?P<upstream>[^"]*)" (?P<status>\d+) "(?P<request>.*)"$')


def _expect():
    from playwright.sync_api import expect

    return expect


def _nginx() -> str:
    found = start_replicas.find_nginx()
    if found is None:
        _unavailable("nginx is not installed (apt-get install nginx)")
    return found


def test_the_shipped_site_config_is_the_template_for_four_replicas_and_nginx_accepts_it(tmp_path: Path) -> None:
    """deploy/nginx/lightnets.conf is what the script renders (no second copy drifting), and nginx parses it."""
    servers = [f"127.0.0.1:{8501 + i}" for i in range(4)]
    shipped = (ROOT / "deploy" / "nginx" / "lightnets.conf").read_text()
    assert shipped == start_replicas.site_config(servers, "80")
    for needed in ("proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
                   "proxy_set_header Connection $lightnets_connection;", "proxy_buffering off;",
                   "proxy_read_timeout 3600s;", "hash $lightnets_sticky consistent;", "proxy_set_header Host $http_host;"):
        assert needed in shipped
    nginx = _nginx()
    conf = tmp_path / "nginx.conf"
    conf.write_text(start_replicas.nginx_config(start_replicas.site_config(servers, "127.0.0.1:8080"), tmp_path))
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


class Session:
    """One student: a browser context (its own cookie jar) with one page, and the replica nginx gave it."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(TIMEOUT_MS)
        # the first response sets the stickiness cookie and says which replica it hashes to
        self.replica = self.context.request.get(f"{url}/_stcore/health").headers[HEADER]
        self.page = self.context.new_page()
        self.sockets: list = []
        self.page.on("websocket", lambda ws: self.sockets.append(ws) if "/_stcore/stream" in ws.url else None)

    def key(self) -> str:
        return next(c["value"] for c in self.context.cookies() if c["name"] == "lightnets_replica")

    def wait(self) -> None:
        # a replica's first sessions import torch and profile the model: give a crowded CI machine time
        _expect()(self.page.get_by_test_id("stGraphVizChart").first.locator("svg g.node").first).to_be_visible(
            timeout=FIRST_PAGE_MS)
        wait_idle(self.page, FIRST_PAGE_MS)

    def open(self, url: str) -> str:
        """Start opening the page (``wait()`` waits for it); return the replica that served the document."""
        return self.page.goto(url, wait_until="commit").headers[HEADER]

    def reload(self) -> str:
        """Reload the page; return the replica that served the document (the last one nginx tried)."""
        response = self.page.reload()
        self.wait()
        return response.headers[HEADER].split(", ")[-1]

    def move_alpha(self, key: str, alpha: float) -> None:
        """Move α with the keyboard and check that this session's rerun drew the new graph."""
        press_slider(self.page, "width multiplier", key)
        stem = lightnets.profile(lightnets.config("mobilenet_v2", alpha=alpha)).blocks[0].output_shape
        graph = self.page.get_by_test_id("stGraphVizChart").first
        _expect()(graph.locator("svg")).to_contain_text("×".join(map(str, stem[1:])))
        _expect()(sidebar_slider(self.page, "width multiplier").get_by_test_id("stSliderThumbValue")) \
            .to_have_text(f"{alpha:.2f}")
        assert_no_exception(self.page)


def _read_log(log: Path, keys: dict[str, int]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The replicas that served each session's requests, and its WebSockets', in log order. A WebSocket is logged
    when it closes, a moment after its browser context closed: wait until each session (key) has at least as many
    as it opened (the value)."""
    deadline = time.monotonic() + 15
    while True:
        served: dict[str, list[str]] = defaultdict(list)
        sockets: dict[str, list[str]] = defaultdict(list)
        for line in log.read_text().splitlines():
            entry = LOG_LINE.match(line)
            assert entry, line
            if entry["upstream"] == "-":  # answered by nginx itself: only a request the browser gave up (499)
                assert entry["status"] == "499", line
            elif entry["key"] in keys:
                served[entry["key"]].append(entry["upstream"])
                if "/_stcore/stream" in entry["request"] and entry["status"] == "101":
                    sockets[entry["key"]].append(entry["upstream"])
        if all(len(sockets[k]) >= n for k, n in keys.items()) or time.monotonic() > deadline:
            return served, sockets
        time.sleep(0.2)


def test_two_replicas_keep_their_sessions_and_a_stopped_one_loses_only_its_own(browser) -> None:
    _nginx()
    with start_replicas.Cluster(replicas=2, port=0, first_port=None) as cluster:
        url = f"{cluster.url}/architecture?model=mobilenet_v2"
        opened: list[Session] = []
        try:
            # new browsers until each replica has PER_REPLICA of them (nginx decides; we only stop asking)
            by_replica: dict[str, list[Session]] = defaultdict(list)
            for _ in range(40):
                session = Session(browser, cluster.url)
                opened.append(session)
                group = by_replica[session.replica]
                if len(group) < PER_REPLICA:
                    group.append(session)
                else:
                    session.context.close()
                if all(len(by_replica[a]) == PER_REPLICA for a in cluster.addresses):
                    break
            assert sorted(by_replica) == sorted(cluster.addresses), f"nginx used only {sorted(by_replica)}"
            assert all(len(by_replica[a]) == PER_REPLICA for a in cluster.addresses), \
                f"40 new browsers did not give both replicas {PER_REPLICA}: {dict(by_replica)}"
            stopped, kept = cluster.addresses
            sessions = [s for a in cluster.addresses for s in by_replica[a]]
            # the lesson: the class opens the page at once, then each student moves α
            assert [session.open(url) for session in sessions] == [session.replica for session in sessions]
            for session in sessions:
                session.wait()
                session.move_alpha("End", 2.0)
                assert len(session.sockets) == 1

            cluster.stop_replica(0)  # mid-lesson
            for session in by_replica[stopped]:  # their connection is gone
                socket = session.sockets[0]
                if not socket.is_closed():
                    socket.wait_for_event("close", timeout=10_000)
            for session in by_replica[kept]:  # the other replica's students notice nothing
                session.move_alpha("Home", 0.25)
                assert len(session.sockets) == 1 and not session.sockets[0].is_closed(), \
                    "a session on the running replica reconnected"
            # an upload through the proxy (Streamlit's XSRF cookie and upload endpoint, on the session's replica)
            student = by_replica[kept][0]
            switch_page(student.page, "Predict")
            student.page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(PHOTO))
            _expect()(student.page.get_by_test_id("stFileChipName")).to_have_text([PHOTO.name])
            wait_idle(student.page)
            _expect()(student.page.get_by_test_id("stPlotlyChart").filter(has_text="As the model sees it")) \
                .to_have_count(1)
            _expect()(student.page.get_by_test_id("stAlert")).to_have_count(0)
            assert_no_exception(student.page)
            for session in by_replica[stopped]:  # a reload brings the lost ones back, on the other replica
                assert session.reload() == kept
                _expect()(sidebar_slider(session.page, "width multiplier")
                          .get_by_test_id("stSliderThumbValue")).to_have_text("2.00")  # the URL kept α
                session.move_alpha("Home", 0.25)
            keys = {s.key(): s for s in sessions}
        finally:
            for session in opened:
                session.context.close()

        # nginx's log: every request of a session went to its replica (the WebSocket included), and after the stop
        # only to the other one
        served, sockets = _read_log(cluster.access_log, {k: 1 if s.replica == kept else 2 for k, s in keys.items()})
        assert set(served) == set(keys)
        for key, session in keys.items():
            if session.replica == kept:
                assert set(served[key]) == {kept}, served[key]
                assert sockets[key] == [kept]
            else:
                first_other = next(i for i, u in enumerate(served[key]) if u != stopped)
                assert set(served[key][:first_other]) == {stopped}
                assert all(u.endswith(kept) for u in served[key][first_other:]), served[key]
                assert sockets[key][0] == stopped and sockets[key][-1].endswith(kept), sockets[key]


def test_the_smoke_script_opens_every_page_of_a_running_server(app_url: str, browser) -> None:
    """deploy/smoke.py, the check for a server started some other way (a container, replicas): every page of the
    navigation without an exception, and a latency measurement, against the tests' server."""
    from ui.navigation import PAGES

    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "smoke.py"), app_url, "--wait", "60"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{len(PAGES)} of {len(PAGES)} pages without an exception" in done.stdout
    assert sum(line.startswith("ok   pages/") for line in done.stdout.splitlines()) == len(PAGES)
