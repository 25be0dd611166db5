"""Database engines and transactions, for the embedded cluster or a given ``DATABASE_URL``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError, OperationalError

from geo.errors import ConflictError, DatabaseError, ValidationError
from geo.settings import Settings, load_settings
from geo.store.cluster import LocalCluster

Bind = Engine | Connection

PING_AFTER_IDLE_S = 2.0
"""A pooled connection unused for longer than this is pinged before it is handed out (one
used since is taken as alive: a request's two checkouts each paid a round trip for the
ping)."""


def local_cluster(settings: Settings | None = None) -> LocalCluster:
    """Return the embedded cluster that the settings point at."""
    settings = settings or load_settings()
    return LocalCluster(root=settings.pg_dir, bin_dir=settings.pg_bin)


def database_url(settings: Settings | None = None, *, start: bool = False) -> str:
    """Return the database URL: ``DATABASE_URL``, else the embedded cluster's.

    Parameters
    ----------
    settings : Settings, optional
        Read from the environment when omitted.
    start : bool
        Start the embedded cluster (creating it on first use) when it is the one used.

    Returns
    -------
    str
        A SQLAlchemy URL.
    """
    settings = settings or load_settings()
    if settings.database_url:
        return _with_driver(settings.database_url)
    cluster = local_cluster(settings)
    if start:
        cluster.start()
    return cluster.url()


def _with_driver(url: str) -> str:
    # Accept the plain libpq form that people paste (postgresql://...) and use psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str | None = None, *, start: bool = True, connections: int = 5,
                more: int | None = None) -> Engine:
    """Create an engine and check that the database answers and has PostGIS.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL; :func:`database_url` when omitted.
    start : bool
        Start the embedded cluster when it is the one used.
    connections : int
        The connections kept open for reuse.
    more : int, optional
        How many more may be opened for a while (and closed when returned); as many again as
        ``connections`` when omitted, none for a server that must stay within a count (its
        threads then wait for a free connection).

    Returns
    -------
    sqlalchemy.engine.Engine

    Raises
    ------
    DatabaseError
        If the database cannot be reached or lacks PostGIS.
    """
    url = url or database_url(start=start)
    engine = sa.create_engine(url, pool_size=connections, max_overflow=connections if more is None else more)
    _ping_when_idle(engine)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT postgis_version()"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        hint = "" if load_settings().database_url else " (is it running? `python -m geo db start`)"
        raise DatabaseError(f"cannot reach the database at {engine.url!r}: {reason}{hint}") from None
    except sa.exc.ProgrammingError:
        engine.dispose()
        raise DatabaseError(
            f"the database at {engine.url!r} has no PostGIS; run CREATE EXTENSION postgis there"
        ) from None
    return engine


@lru_cache(maxsize=256)
def statement(sql: str) -> sa.TextClause:
    """``sa.text(sql)``, made once per text: a request's hot statements are long texts built the
    same way every time, and parsing them for their parameters cost 20 µs each."""
    return sa.text(sql)


def _ping_when_idle(engine: Engine) -> None:
    # SQLAlchemy's pool_pre_ping, for the connections idle long enough to have been dropped (a
    # restarted server, a firewall's timeout); a dead one is replaced (the pool's documented
    # answer to DisconnectionError in a checkout listener).
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("a pooled connection no longer answers")


@contextmanager
def transaction(bind: Bind) -> Iterator[Connection]:
    """Run a block in a transaction that commits at the end or rolls back on error.

    Given an engine, this is a new transaction. Given a connection already inside a
    transaction (a test's, or a caller's), this is a savepoint inside it, so that a failure
    undoes only the block and the caller decides about the rest.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif bind.in_transaction():
        with bind.begin_nested():
            yield bind
    else:
        with bind.begin():
            yield bind


@contextmanager
def one_statement(bind: Bind) -> Iterator[Connection]:
    """Run one statement that needs no transaction around it (a single statement is atomic):
    given an engine, on a connection in autocommit, so that it costs one round trip where
    ``BEGIN``, the statement and ``COMMIT`` cost three (a request's key look-up, under load,
    waited for each). Given a connection, as :func:`transaction`."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with transaction(bind) as conn:
            yield conn


def lock_versioned(conn: Connection, table: str, row_id: int, expected_version: int | None, what: str):
    """Lock one row of a versioned table (``FOR UPDATE``) and check the version a person was shown.

    Parameters
    ----------
    conn : Connection
        Inside the transaction that will change the row.
    table : str
        A table with ``id`` and ``version`` columns (a name from the code, never from input).
    row_id : int
    expected_version : int or None
        The version the person acted on; None skips the check.
    what : str
        What the row is, for the messages ("project").

    Returns
    -------
    sqlalchemy.Row
        The locked row, every column.

    Raises
    ------
    ValidationError
        When there is no such row.
    ConflictError
        When the row's version moved on since the person read it.
    """
    row = conn.execute(sa.text(f"SELECT * FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id}).first()
    if row is None:
        raise ValidationError(f"there is no {what} {row_id}")
    if expected_version is not None and row.version != expected_version:
        raise ConflictError(f"{what} {row_id} changed since you read it (version {expected_version}, now "
                            f"{row.version}); reload it and try again")
    return row
