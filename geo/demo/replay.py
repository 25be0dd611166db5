"""Replay: a synthetic city that keeps talking, through the API, on the platform's clock.

A day (or more) of the demo city after the loaded history is generated, and each of its
complaints is posted to the Open311 API when the platform's clock reaches its received time;
its later dispatch, response, resolution and the caller's satisfaction follow as status
updates, each at its own time. The clock is set to the first moment and runs ``speed`` times
as fast, so the app, the worker and the replay see the same moment.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from geo.act.categories import UNCLASSIFIED, categories, classify
from geo.demo.synth import ZONE
from geo.ingest.validate import SATISFACTION, YES_NO, channels

log = logging.getLogger("whistle.replay")
_OPEN311 = "/open311/v2"


@dataclass(order=True)
class Event:
    """One thing to post at a moment: a complaint or a status update."""

    at: pd.Timestamp
    order: int
    path: str = field(compare=False)
    key: str = field(compare=False)
    form: dict = field(compare=False)


def events(export: pd.DataFrame, mapping: dict[str, str], keys: dict[str, str]) -> list[Event]:
    """The timeline of a demo export: each complaint, then its updates, in time order.

    Parameters
    ----------
    export : pandas.DataFrame
        The demo's export (:func:`geo.demo.synth.write`), under its own column names.
    mapping : dict
        Field to column (:data:`geo.demo.synth.MAPPING`).
    keys : dict
        API keys by channel (``phone``, ``web``, ...) and for ``department`` and ``callback``.
    """
    get = lambda name: export[mapping[name]] if mapping[name] in export else pd.Series(None, index=export.index)  # noqa: E731
    received = pd.to_datetime(get("received_at"), errors="coerce").dt.tz_localize(ZONE,
                                                                                   nonexistent="NaT",
                                                                                   ambiguous="NaT")
    codes = classify(get("category").astype("string"))
    known = set(categories())
    channel = get("channel").astype("string").str.lower().map(channels()).fillna("phone")
    out: list[Event] = []
    order = 0
    # A row without a time or an id cannot be played: no moment to post it, and no id for its
    # updates to name (the export's defect; its bulk ingest rejects it too).
    ids = get("id").astype("string").str.strip()
    for i in np.flatnonzero((received.notna() & ids.notna() & (ids != "")).to_numpy()):
        at = received.iat[i]
        rid = str(ids.iat[i])
        code = codes.iat[i] if codes.iat[i] in known else UNCLASSIFIED
        form = {"service_code": code, "description": _value(get("text").iat[i]),
                "address_string": _value(get("address").iat[i]), "phone": _value(get("phone").iat[i]),
                "lat": _value(get("lat").iat[i]), "long": _value(get("lon").iat[i]),
                "attribute[crs]": _value(get("crs").iat[i]), "attribute[channel_request_id]": rid,
                "attribute[received_at]": at.isoformat()}
        out.append(Event(at, order, "requests.json", keys.get(channel.iat[i], keys["phone"]),
                         {k: v for k, v in form.items() if v is not None}))
        order += 1
        # Numbered: a complaint handed back twice sends two "returned" updates, not one twice.
        for n, (when, kind, extra, sender) in enumerate(_updates(get, i)):
            if pd.isna(when) or when < at:
                continue
            out.append(Event(when, order, "servicerequestupdates.json", keys[sender], {
                "service_request_id": rid, "update_id": f"{rid}:{n}:{kind}", "updated_datetime": when.isoformat(),
                "status": "closed" if kind in ("resolved", "unresolved") or sender == "callback" else "open",
                "external_status_code": kind, **extra}))
            order += 1
    out.sort()
    return out


def _updates(get, i: int) -> Iterable[tuple[pd.Timestamp, str, dict, str]]:
    moment = lambda v: pd.NaT if v is None or pd.isna(v) else pd.Timestamp(v).tz_localize(ZONE)  # noqa: E731
    hand_offs = get("dispatches").iat[i]
    for hand_off in _hand_offs(hand_offs):
        yield moment(hand_off.get("at")), hand_off.get("action", "dispatched"), {"unit": hand_off.get("unit")}, \
            "department"
    responded = moment(get("responded_at").iat[i])
    yield responded, "responded", {}, "department"
    resolved_at = moment(get("resolved_at").iat[i])
    if not pd.isna(resolved_at):
        yield resolved_at, "resolved", {}, "department"
    elif YES_NO.get(str(get("resolved").iat[i]).strip().lower()) is False:
        # An export's "not resolved" is an outcome too (the department's, as the export stood);
        # it has no time of its own, so it comes with the response, or the last hand-off.
        last = [m for m in (responded, *(moment(h.get("at")) for h in _hand_offs(hand_offs))) if not pd.isna(m)]
        if last:
            yield max(last), "unresolved", {}, "department"
    satisfaction = SATISFACTION.get(str(get("satisfaction").iat[i]).strip().lower())
    if satisfaction is not None:
        after = resolved_at if not pd.isna(resolved_at) else moment(get("responded_at").iat[i])
        if not pd.isna(after):
            yield after + pd.Timedelta(hours=1), satisfaction, {}, "callback"


def _hand_offs(text) -> list[dict]:
    """The hand-offs of an export's dispatch list (none when it is missing or not a list of objects)."""
    if not isinstance(text, str):
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [h for h in value if isinstance(h, dict)] if isinstance(value, list) else []


def _value(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return None
    return str(value)


@dataclass
class Tally:
    """What a replay sent and what became of it: accepted + rejected = sent."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    by_status: dict = field(default_factory=dict)
    lates: list[float] = field(default_factory=list, repr=False)
    """How long after its moment each event was posted, in clock seconds (a replay that keeps
    up stays within a few; one that does not falls further behind)."""

    def count(self, status: int, late_s: float) -> None:
        """Count one answer (0: no answer), posted ``late_s`` clock seconds after its moment."""
        self.sent += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.accepted += status == 200
        self.rejected += status in (400, 404)
        self.failed += status not in (200, 400, 404)
        self.lates.append(late_s)

    @property
    def late_s(self) -> float:
        """The latest an event was posted after its moment, in clock seconds."""
        return max(self.lates, default=0.0)

    def late_quantile_s(self, q: float) -> float:
        """The ``q`` quantile of the events' lateness, in clock seconds."""
        return float(np.quantile(self.lates, q)) if self.lates else 0.0


def play(timeline: list[Event], base_url: str, clock: Callable[[], datetime], *,
         sleep: Callable[[float], None], wall_per_clock: float, workers: int = 40,
         stop: Callable[[], bool] = lambda: False) -> Tally:
    """Post each event when ``clock`` reaches its moment (a few at once); returns the tally.

    The events due at one moment go together, and the next moment's wait for their answers:
    a burst of posts makes the API's batches larger (a batch's checks cost about the same for
    one row as for forty), and posting each event as it comes, unbatched, fell further behind
    (bench/RESULTS.md, 2026-12-04). ``wall_per_clock`` is the wall seconds per clock second
    (1/speed): how long to sleep.
    """
    import urllib3

    tally = Tally()
    # One pool of kept-alive connections for the posting threads: urllib3 itself, as requests'
    # sessions cost the replay three times the CPU a post (1.5 against 0.55 ms), on the
    # machine that also runs the API, the worker and the database. A post whose connection
    # broke is sent once more, as a channel would: the server closes a kept-alive connection
    # idle for 5 s, and one reused in that instant fails unsent (uvicorn's timeout_keep_alive;
    # the likely end of three posts lost in a day at 100×). Sending twice is safe, as the API keeps one
    # complaint per channel id and one update per update id. An answer, even an error, is final.
    retry = urllib3.Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods=None,
                          raise_on_status=False, raise_on_redirect=False, redirect=0)
    pool_manager = urllib3.PoolManager(maxsize=workers, retries=retry, timeout=urllib3.Timeout(total=30))
    queue = list(timeline)
    heapq.heapify(queue)

    def post(event: Event) -> tuple[int, float]:
        late = (pd.Timestamp(clock()) - event.at).total_seconds()  # taken as it goes, not per round
        try:
            answer = pool_manager.request("POST", f"{base_url}{_OPEN311}/{event.path}",
                                          fields=_form(event), encode_multipart=False)
            return answer.status, late
        except urllib3.exceptions.HTTPError as exc:
            log.warning("replay: %s failed: %s", event.path, exc)
            return 0, late

    with ThreadPoolExecutor(workers) as pool:
        while queue and not stop():
            now = pd.Timestamp(clock())
            batch = []
            while queue and queue[0].at <= now:
                batch.append(heapq.heappop(queue))
            # An update of a complaint posted in this round waits for the complaint's answer (it
            # would race it and find nothing); the others go with the complaints, so that the
            # API's two intakes (complaints, updates) work at once rather than in turn.
            complaints = [e for e in batch if e.path == "requests.json"]
            posting = {e.form["attribute[channel_request_id]"] for e in complaints}
            updates = [e for e in batch if e.path != "requests.json"]
            waiting = [e for e in updates if e.form["service_request_id"] in posting]
            free = [e for e in updates if e.form["service_request_id"] not in posting]
            for status, late in [*pool.map(post, complaints + free), *pool.map(post, waiting)]:
                tally.count(status, late)
            if queue and not batch:
                wait = (queue[0].at - pd.Timestamp(clock())).total_seconds() * wall_per_clock
                sleep(min(max(wait, 0.01), 1.0))
    return tally


def _form(event: Event) -> dict[str, str]:
    # A field without a value is left out, not sent as the text "None".
    return {k: str(v) for k, v in {"api_key": event.key, **event.form}.items() if v is not None}
