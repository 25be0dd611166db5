"""The replay's order: a moment's complaints go together, an update only after its complaint's answer."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pandas as pd

from geo.demo.replay import Event, play

T0 = pd.Timestamp("2026-11-02 08:00", tz="Asia/Shanghai")
SLOW = {"A": 0.6}  # seconds the server takes to answer these
DROP_ONCE = {"E"}  # closed unanswered the first time


@contextmanager
def _server(seen: list):
    """A real HTTP server on a free port that notes when each post starts and ends."""
    lock = threading.Lock()
    dropping: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            name = (form.get("update_id") or form.get("attribute[channel_request_id]"))[0]
            with lock:
                seen.append(("start", name, time.perf_counter()))
                dropped = name in DROP_ONCE and name not in dropping
                dropping.add(name)
            if dropped:  # the connection closes unanswered, as a server's idle timeout does
                self.close_connection = True
                return
            time.sleep(SLOW.get(name, 0.0))
            with lock:
                seen.append(("end", name, time.perf_counter()))
            self.send_response(404 if name == "C" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _complaint(rid: str, minutes: int, order: int) -> Event:
    return Event(T0 + pd.Timedelta(minutes=minutes), order, "requests.json", "wk_x",
                 {"attribute[channel_request_id]": rid})


def _update(rid: str, n: int, minutes: int, order: int) -> Event:
    return Event(T0 + pd.Timedelta(minutes=minutes), order, "servicerequestupdates.json", "wk_x",
                 {"service_request_id": rid, "update_id": f"{rid}:{n}"})


def test_a_moment_s_complaints_go_together_and_their_updates_after_their_answers():
    """With everything due at once: B is posted while A's slow answer is still on its way (the
    API batches them together), and no update goes before its complaint's answer; every post
    is counted, and its lateness taken when it goes."""
    timeline = sorted([_complaint("A", 0, 0), _update("A", 0, 0, 1), _update("A", 1, 1, 2),
                       _complaint("B", 0, 3), _update("B", 0, 2, 4), _complaint("C", 5, 5)])
    seen: list = []
    after = lambda: datetime.now(UTC) + timedelta(days=3)  # noqa: E731
    with _server(seen) as base:
        tally = play(timeline, base, after, sleep=lambda s: None, wall_per_clock=0.0, workers=8)
    at = {(kind, name): moment for kind, name, moment in seen}
    assert len(seen) == 2 * len(timeline)
    assert at["start", "B"] < at["end", "A"], "B waited for A's answer"
    assert at["start", "C"] < at["end", "A"], "C waited for A's answer"
    for update, complaint in (("A:0", "A"), ("A:1", "A"), ("B:0", "B")):
        assert at["end", complaint] <= at["start", update], update
    assert (tally.sent, tally.accepted, tally.rejected, tally.failed) == (6, 5, 1, 0)
    assert tally.by_status == {200: 5, 404: 1}
    assert tally.late_s > 86_400, "lateness is counted when a post goes, against its moment"
    assert tally.late_quantile_s(0.5) > 86_400


def test_a_replay_that_keeps_up_posts_each_event_at_its_moment():
    """On a clock running 600× as fast, events a clock minute apart go about 0.1 s apart, in
    order, and none is sent before its moment; a post whose connection closed unanswered is
    sent once more (the API keeps one complaint per channel id)."""
    timeline = [_complaint(rid, n, n) for n, rid in enumerate("DEFG")]
    seen: list = []
    wall_origin = datetime.now(UTC)
    clock = lambda: T0.to_pydatetime() + (datetime.now(UTC) - wall_origin) * 600  # noqa: E731
    started = time.perf_counter()
    with _server(seen) as base:
        tally = play(timeline, base, clock, sleep=time.sleep, wall_per_clock=1 / 600, workers=4)
    assert [name for kind, name, _ in seen if kind == "start"] == list("DEEFG"), "E is sent again"
    first: dict[str, float] = {}
    for _kind, name, moment in seen:
        first.setdefault(name, moment - started)
    for n, name in enumerate("DEFG"):
        assert first[name] >= n * 0.1 - 0.01, (name, first)
    assert tally.sent == tally.accepted == 4
    assert tally.late_s < 30
