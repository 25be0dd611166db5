"""The Open311 GeoReport v2 app (FastAPI on uvicorn): ``uvicorn --factory geo.api.app:create_app``.

FastAPI because it is ASGI (uvicorn serves it, as the spec's many small requests need), it
writes the OpenAPI schema that the property-based tests fuzz, and it runs the platform's
synchronous, database-bound handlers in a thread pool without a line of async code.

Every complaint goes through the file rows' own path (:func:`geo.ingest.run_db.ingest_rows`):
the same checks, coordinate conversion, locate, phone masking and rejected table. Requests
refused by the spec itself (no service code, half a point, no location, an unknown service)
are stored as rejected rows too: nothing sent is lost. Errors are the spec's
``[{code, description}]`` with 400, 403 or 404, and never a traceback (that goes to the log).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Literal

import anyio.to_thread
import pandas as pd
import sqlalchemy as sa
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.act.categories import categories
from geo.act.whistle import CALL_STATES
from geo.act.whistle_db import addressed_calls, addressee_code, check_in
from geo.api import open311
from geo.api.intake import Intake, Later, complaints, updates
from geo.api.keys_db import Caller, caller_of
from geo.api.open311 import DEFAULT_DAYS, DEFAULT_LIMIT, FORMATS, RequestError
from geo.clock import Clock
from geo.errors import ValidationError
from geo.ingest.run_db import ingest_rows, reject_rows
from geo.ingest.updates_db import UnknownRequestError, record_updates, updates_since
from geo.locate.boundaries import BoundaryIndex
from geo.locate.boundaries_db import boundary_index, boundary_stamp
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.settings import load_settings
from geo.store.clock_db import shared_clock
from geo.store.engine import Bind, make_engine, transaction

log = logging.getLogger("whistle.api")
Format = Literal[FORMATS]
"""The spec's two formats, as the schema declares them (another is a 404)."""
PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
HANDLER_THREADS = 40
"""Requests handled at once (anyio's thread pool, where FastAPI runs the synchronous handlers);
more wait for a thread."""
CONNECTIONS = 12
"""The API's connections, all kept open and never more (a handler holds one for a millisecond
to check its key; the two intake threads hold one each for a batch): a pool that opened more
for a while closed them again, and each request beyond it paid a new session (a few
milliseconds, and its temporary tables made again); one a thread overran the database's
``max_connections`` under load."""
Accepted = Callable[[list[str]], None]
"""Told the ids of the complaints a request stored (the worker's queue listens)."""


class _Boundaries:
    """The boundary sets, read once and again only when a set is added or changed."""

    def __init__(self, bind: Bind, every_s: float = 10.0) -> None:
        self._bind, self._every, self._lock = bind, every_s, threading.Lock()
        self._stamp, self._checked, self._index = None, 0.0, None

    def get(self) -> BoundaryIndex:
        with self._lock:
            if self._index is None or time.monotonic() - self._checked > self._every:
                stamp = boundary_stamp(self._bind)
                if stamp != self._stamp or self._index is None:
                    settings = load_settings()
                    self._index = boundary_index(self._bind, DEFAULT_RESOLUTION, settings.home / "var" / "cache")
                    self._stamp = stamp
                self._checked = time.monotonic()
            return self._index


def create_app(bind: Bind | None = None, *, clock: Clock | None = None, on_accepted: Accepted | None = None,
               timezone: str | None = None) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    bind : Engine, optional
        The database; the settings' (``DATABASE_URL`` or the embedded cluster) when omitted.
    clock : callable, optional
        The platform's clock; the shared clock (:mod:`geo.store.clock_db`) when omitted.
    on_accepted : callable, optional
        Called with the ids of the complaints each request stored (e.g. to queue the worker's
        checks); the worker's queue (:func:`geo.worker.tasks.defer_arrivals`) when omitted.
    timezone : str, optional
        The city's zone (its profile's when omitted): times without a zone are read in it and
        answers are written in it.

    Returns
    -------
    fastapi.FastAPI
    """
    engine = bind if bind is not None else make_engine(connections=CONNECTIONS, more=0)
    timezone = timezone or load_settings().timezone
    now = clock or shared_clock(engine)
    told = None
    if on_accepted is None:
        from geo.worker.tasks import defer_arrivals

        # Off the intake thread: a batch's answers do not wait for the worker's queue.
        on_accepted = told = Later(lambda ids: defer_arrivals(engine, ids))
    boundaries = _Boundaries(engine)
    table = categories()
    # The services and their names are the shipped categories: the same for the process's life.
    listed = [open311.service(c) for _code, c in sorted(table.items())]
    names = {code: c.name_zh for code, c in table.items()}
    intake = Intake(complaints(lambda rows, source, moment: ingest_rows(
        engine, rows, source=source, now=moment, boundaries=boundaries.get(), timezone=timezone), on_accepted))
    # Updates have their own thread: a batch of them never waits behind a batch of complaints.
    update_intake = Intake(updates(lambda batch, key_id: record_updates(
        engine, batch, key_id=key_id, timezone=timezone), timezone))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        anyio.to_thread.current_default_thread_limiter().total_tokens = HANDLER_THREADS
        # The boundaries (and their cell tables, built on a fresh install) are read before the
        # first request: it waited for them, 5 to 10 s, where one complaint takes milliseconds.
        await anyio.to_thread.run_sync(lambda: boundaries.get().prepare(pd.Timestamp(now())))
        yield
        intake.close()
        update_intake.close()
        if told is not None:
            told.close()

    app = FastAPI(title="Whistle Open311 GeoReport v2", version="2", lifespan=lifespan,
                  description="The 12345 hotline's channels post complaints; departments and the callback "
                              "centre post status updates (FixMyStreet's servicerequestupdates).")
    _errors(app)

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        with transaction(engine) as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"ok": True, "now": open311.iso(now(), timezone)}

    @app.get("/open311/discovery.{fmt}", summary="Discovery")
    def discovery(request: Request, fmt: Format) -> Response:
        base = str(request.base_url).rstrip("/") + PREFIX + "/"
        body = {"changeset": "2026-12-01T00:00:00Z", "contact": "the hotline's platform team",
                "key_service": "python -m geo api-keys add NAME --kind channel --channel wechat",
                "endpoints": [{"specification": SPEC, "url": base, "changeset": "2026-12-01T00:00:00Z",
                               "type": "production", "formats": [f"application/{f}" for f in FORMATS]}]}
        if fmt == "xml":
            return _xml(open311.to_xml_one("discovery", body))
        return JSONResponse(body)

    @app.get(PREFIX + "/services.{fmt}", summary="Service list")
    def services(fmt: Format) -> Response:
        return _answer(fmt, "services", "service", listed)

    @app.get(PREFIX + "/services/{service_code}.{fmt}", summary="Service definition")
    def service_definition(service_code: str, fmt: Format) -> Response:
        if service_code not in table:
            raise RequestError(404, f"service_code: no service {service_code[:60]!r}; GET services.json lists them")
        body = open311.definition(table[service_code])
        if fmt == "xml":
            return _xml(open311.to_xml_one("service_definition", body))
        return JSONResponse(body)

    @app.post(PREFIX + "/requests.{fmt}", summary="Post a service request")
    def post_request(fmt: Format, api_key: str | None = Form(None), service_code: str | None = Form(None),
                     lat: str | None = Form(None), long: str | None = Form(None),
                     address_string: str | None = Form(None), address_id: str | None = Form(None),
                     email: str | None = Form(None), device_id: str | None = Form(None),
                     account_id: str | None = Form(None), first_name: str | None = Form(None),
                     last_name: str | None = Form(None), phone: str | None = Form(None),
                     description: str | None = Form(None), media_url: str | None = Form(None),
                     channel_request_id: str | None = Form(None, alias="attribute[channel_request_id]"),
                     crs: str | None = Form(None, alias="attribute[crs]"),
                     received_at: str | None = Form(None, alias="attribute[received_at]"),
                     accuracy: str | None = Form(None, alias="attribute[accuracy]")) -> Response:
        caller = _caller(engine, api_key, "channel")
        form = {"service_code": service_code, "lat": lat, "long": long, "address_string": address_string,
                "description": description, "phone": phone, "first_name": first_name, "last_name": last_name,
                "email": email, "attribute[channel_request_id]": channel_request_id, "attribute[crs]": crs,
                "attribute[received_at]": received_at, "attribute[accuracy]": accuracy}
        source = f"api:{caller.name}"
        moment = now()  # one moment per request: its default received time and the future check
        try:
            row = open311.request_fields(form, channel=caller.channel, now=moment, timezone=timezone)
            if row["category"] not in table:
                raise RequestError(400, f"service_code: {row['category'][:60]!r} is not a service; GET "
                                        "services.json lists them")
        except RequestError as exc:
            reject_rows(engine, [{k: v for k, v in form.items() if v is not None}], source=source,
                        reason_code="bad_request", reason=exc.description)
            raise
        row["id"] = row["id"] or f"{caller.name}-{uuid.uuid4().hex[:20]}"
        outcome = intake.submit((row, pd.Timestamp(moment)), source, row["id"])
        if not outcome.accepted:
            raise RequestError(400, outcome.reason or "the request was rejected")
        return _answer(fmt, "service_requests", "request",
                       [{"service_request_id": row["id"], "service_notice": "", "account_id": account_id}])

    @app.get(PREFIX + "/requests.{fmt}", summary="Get service requests")
    def get_requests(fmt: Format, api_key: str | None = Query(None), service_request_id: str | None = Query(None),
                     service_code: str | None = Query(None), start_date: str | None = Query(None),
                     end_date: str | None = Query(None), status: str | None = Query(None),
                     page: str | None = Query(None), page_size: str | None = Query(None)) -> Response:
        _caller(engine, api_key, None)
        ids = _list(service_request_id, "service_request_id")
        end = _moment(end_date, "end_date", timezone) or pd.Timestamp(now())
        start = _moment(start_date, "start_date", timezone) or end - pd.Timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise RequestError(400, "start_date: after end_date")
        states = _list(status, "status")
        if any(s not in ("open", "closed") for s in states):
            raise RequestError(400, f"status: {status[:40]!r}; it is open, closed or both (open,closed)")
        codes = _list(service_code, "service_code")
        size = _whole(page_size, "page_size", DEFAULT_LIMIT, 1, DEFAULT_LIMIT)
        number = _whole(page, "page", 1, 1, 1_000_000)
        rows = _requests(engine, ids, codes, start, end, states, size, (number - 1) * size)
        return _answer(fmt, "service_requests", "request", [open311.request_record(r, names, timezone) for r in rows])

    @app.get(PREFIX + "/requests/{service_request_id}.{fmt}", summary="Get one service request")
    def get_request(service_request_id: str, fmt: Format, api_key: str | None = Query(None)) -> Response:
        _caller(engine, api_key, None)
        rows = _requests(engine, [service_request_id], [], None, None, [], 1, 0)
        if not rows:
            raise RequestError(404, f"service_request_id: no request {service_request_id[:60]!r}")
        return _answer(fmt, "service_requests", "request", [open311.request_record(rows[0], names, timezone)])

    @app.post(PREFIX + "/servicerequestupdates.{fmt}", summary="Post a status update (FixMyStreet)")
    def post_update(fmt: Format, api_key: str | None = Form(None), service_request_id: str | None = Form(None),
                    update_id: str | None = Form(None), updated_datetime: str | None = Form(None),
                    status: str | None = Form(None), description: str | None = Form(None),
                    external_status_code: str | None = Form(None), unit: str | None = Form(None),
                    media_url: str | None = Form(None)) -> Response:
        caller = _caller(engine, api_key, ("department", "callback"))
        state = (status or "").strip().lower()
        try:
            if state not in ("open", "closed"):
                raise RequestError(400, f"status: {(status or '')[:40]!r}; it is open or closed")
            fields = {"source_id": service_request_id, "external_id": update_id, "kind": external_status_code,
                      "at": updated_datetime, "unit": unit, "description": description}
            recorded = update_intake.submit((fields, state, (caller.id, caller.kind), pd.Timestamp(now())),
                                            f"key:{caller.id}", str(update_id))
        except UnknownRequestError as exc:
            raise RequestError(404, str(exc)) from None
        except ValidationError as exc:
            raise RequestError(400, str(exc)) from None
        return _answer(fmt, "service_request_updates", "request_update", [{"update_id": str(recorded.id)}])

    @app.get(PREFIX + "/whistle/calls.{fmt}", summary="The whistle calls addressed to a department (Whistle)")
    def get_calls(fmt: Format, api_key: str | None = Query(None), state: str | None = Query(None)) -> Response:
        caller = _department(engine, api_key)
        wanted = (state or "raised").strip().lower()
        if wanted not in (*CALL_STATES, "all"):
            raise RequestError(400, f"state: {wanted[:40]!r}; it is one of {', '.join(CALL_STATES)} or all")
        rows = addressed_calls(engine, caller.organisation_id, now=now(), state=None if wanted == "all" else wanted)
        return _answer(fmt, "whistle_calls", "call", [open311.call_record(r, timezone)
                                                     for r in rows.to_dict("records")])

    @app.post(PREFIX + "/whistle/calls/{call_id}/reports.{fmt}", summary="A department reports on a call (Whistle)")
    def post_call_report(call_id: int, fmt: Format, api_key: str | None = Form(None), done: str | None = Form(None),
                         note: str | None = Form(None)) -> Response:
        caller = _department(engine, api_key)
        code = addressee_code(engine, call_id, caller.organisation_id)
        if code is None:
            raise RequestError(404, f"call_id: no call {call_id} is addressed to {caller.name}")
        finished = (done or "false").strip().lower()
        if finished not in ("true", "false"):
            raise RequestError(400, f"done: {finished[:20]!r}; it is true (the part is done) or false (checked in)")
        try:
            version = check_in(engine, call_id, code, actor=f"api:{caller.name}", now=now(),
                               done=finished == "true", note=note)
        except ValidationError as exc:  # a state that does not allow it, a note too long
            raise RequestError(400, str(exc)) from None
        return _answer(fmt, "whistle_reports", "report",
                       [{"call_id": call_id, "code": code, "state": "done" if finished == "true" else "reported",
                         "version": version}])

    @app.get(PREFIX + "/servicerequestupdates.{fmt}", summary="Get status updates (FixMyStreet)")
    def get_updates(fmt: Format, api_key: str | None = Query(None), start_date: str | None = Query(None),
                    end_date: str | None = Query(None)) -> Response:
        _caller(engine, api_key, None)
        end = _moment(end_date, "end_date", timezone) or pd.Timestamp(now())
        start = _moment(start_date, "start_date", timezone) or end - pd.Timedelta(days=1)
        if start > end:
            raise RequestError(400, "start_date: after end_date")
        rows = updates_since(engine, start, end, limit=DEFAULT_LIMIT)
        return _answer(fmt, "service_request_updates", "request_update",
                       [open311.update_record(r, timezone) for r in rows.to_dict("records")])

    return app


def _errors(app: FastAPI) -> None:
    def answer(request: Request, status: int, description: str) -> Response:
        error = RequestError(status, description)
        if request.url.path.endswith(".xml"):
            return _xml(open311.to_xml("errors", "error", error.body()), status)
        return JSONResponse(error.body(), status_code=status)

    @app.exception_handler(RequestError)
    def _request_error(request: Request, exc: RequestError) -> Response:
        return answer(request, exc.status, exc.description)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if tuple(first.get("loc", ())) == ("path", "fmt"):
            return answer(request, 404, f"format {str(first.get('input'))[:20]!r}: served as .json or .xml")
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return answer(request, 400, f"{where}: {first.get('msg', 'malformed')}")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(request, exc.status_code, "not found: see /open311/discovery.json"
                      if exc.status_code == 404 else str(exc.detail))

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(request, 500, "the platform could not answer; the error is in its log")


def _department(bind: Bind, key: str | None) -> Caller:
    caller = _caller(bind, key, "department")
    if caller.organisation_id is None:
        raise RequestError(403, "api_key: this department's key names no department (python -m geo api-keys add "
                                "NAME --kind department --department CODE)")
    return caller


def _caller(bind: Bind, key: str | None, kinds) -> Caller:
    caller = caller_of(bind, key)
    if caller is None:
        raise RequestError(403, "api_key: missing, unknown or revoked")
    if kinds is not None and caller.kind not in ((kinds,) if isinstance(kinds, str) else kinds):
        raise RequestError(403, f"api_key: a {caller.kind}'s key may not do this")
    return caller


def _answer(fmt: Format, root: str, item: str, items: list[dict]) -> Response:
    if fmt == "xml":
        return _xml(open311.to_xml(root, item, items))
    return JSONResponse(items)


def _xml(document: bytes, status: int = 200) -> Response:
    return Response(document, status_code=status, media_type="application/xml")


def _list(value: str | None, name: str) -> list[str]:
    if value is None:
        return []
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > DEFAULT_LIMIT or any("\x00" in v for v in items):
        raise RequestError(400, f"{name}: at most {DEFAULT_LIMIT} comma-separated values, without NUL bytes")
    return items


def _moment(value: str | None, name: str, timezone: str) -> pd.Timestamp | None:
    if value is None or not value.strip():
        return None
    try:
        moment = pd.Timestamp(value.strip())
    except (ValueError, TypeError, OverflowError):
        raise RequestError(400, f"{name}: {value[:40]!r} is not an ISO 8601 date and time") from None
    if pd.isna(moment) or not 1900 <= moment.year <= 2200:
        raise RequestError(400, f"{name}: {value[:40]!r} is not a plausible date and time")
    return moment.tz_localize(timezone) if moment.tzinfo is None else moment.tz_convert("UTC")


def _whole(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise RequestError(400, f"{name}: {value[:20]!r} is not a whole number") from None
    if not low <= number <= high:
        raise RequestError(400, f"{name}: {number} is not between {low} and {high}")
    return number


_TOWNSHIP_NAME = """(SELECT j.name FROM jurisdiction j JOIN boundary_set s ON s.id = j.set_id
    WHERE j.code = c.township_code AND j.level = 'township' ORDER BY s.valid_from DESC LIMIT 1)"""


def _requests(bind: Bind, ids: list[str], codes: list[str], start: datetime | None, end: datetime | None,
              states: list[str], limit: int, offset: int) -> list[dict]:
    where, params = ["true"], {"limit": limit, "offset": offset}
    if ids:
        where.append("c.source_id = ANY(:ids)")
        params["ids"] = ids
    else:
        where.append("c.received_at >= :start AND c.received_at <= :end")
        params.update(start=start, end=end)
    if codes:
        where.append("c.category = ANY(:codes)")
        params["codes"] = codes
    if states and set(states) != {"open", "closed"}:
        closed = "(c.resolved IS NOT NULL OR c.resolved_at IS NOT NULL)"
        where.append(closed if states == ["closed"] else f"NOT {closed}")
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(
            f"SELECT c.source_id, c.category, c.text, c.address, c.lon, c.lat, c.received_at, c.dispatched_at, "
            f"c.responded_at, c.resolved, c.resolved_at, c.satisfaction, c.returned_count, "
            f"{_TOWNSHIP_NAME} AS township_name FROM complaint c WHERE {' AND '.join(where)} "
            "ORDER BY c.received_at DESC, c.id DESC LIMIT :limit OFFSET :offset"), params).mappings().all()
    return [dict(r) for r in rows]
