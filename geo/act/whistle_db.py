"""Whistle calls in PostGIS: raised from border cases, acted on by people, escalated by the clock.

Every function takes ``now`` (the injected clock: tests and replays pass a time; the command
line and the app pass the wall clock) and every change writes a ``whistle_event`` row with who,
when, what and a note.

Two people acting on one call cannot both win: each action locks the call's row
(``SELECT ... FOR UPDATE``), re-checks the state under the lock and bumps ``version``. An action
that names the version it was shown (``expected_version``, as the app does) is refused with
:class:`geo.errors.ConflictError` when someone acted in between. Raising takes a transaction
advisory lock, so two raisers never open two calls for one case (a partial unique index backs
that up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from geo.act.categories import categories
from geo.act.organisations_db import answering
from geo.act.whistle import (
    DISPUTES,
    KINDS,
    LEVELS,
    QueueFilter,
    TransitionError,
    WhistleRules,
    addressee_steps,
    addressees,
    call_action,
    call_decision,
    call_kind,
    check_kind,
    check_move,
    escalation_due,
)
from geo.clock import Clock, replay_from
from geo.detect.cases import neighbour_cluster_keys
from geo.errors import ValidationError
from geo.store.engine import Bind, lock_versioned, transaction
from geo.store.models import WhistleEvent

# Events are plain inserts through the model; raising, joining and escalating stay SQL: they are
# set-based statements over many rows (INSERT ... SELECT, conditional updates) tuned for the queue.


def late_sql(at: str) -> str:
    """SQL: addressee ``a`` of call ``c`` is late at the moment ``at`` (a bind name): marked late,
    or still pending past its deadline on a raised call (a proposed whistle's clock has not started)."""
    return f"(a.late OR (a.state = 'pending' AND a.deadline_at < {at} AND c.state = 'raised'))"


def addressed_sql(org: str) -> str:
    """SQL: call ``c`` is addressed to the organisation whose id is the bind ``org`` (every call
    when it is NULL)."""
    return (f"(CAST({org} AS integer) IS NULL OR EXISTS (SELECT 1 FROM whistle_addressee m "
            f"WHERE m.call_id = c.id AND m.organisation_id = {org}))")


# Marks an addressee late when :late is true, counting the lateness once per round of the call.
MARK_LATE = "times_late = times_late + CASE WHEN :late AND NOT late THEN 1 ELSE 0 END, late = late OR :late"
RAISE_LOCK = 0x57484953  # "WHIS": the advisory lock that serialises raising
SYSTEM = "rules"


def latest_complaint(bind: Bind) -> datetime:
    """When the newest stored complaint came in: the clock for replaying a loaded dataset."""
    with transaction(bind) as conn:
        moment = conn.execute(sa.text("SELECT max(received_at) FROM complaint")).scalar()
    if moment is None:
        raise ValidationError("no complaints are stored yet: there is no latest complaint to set the clock by")
    return moment


def replay_clock(bind: Bind) -> Clock:
    """A clock that starts at the newest stored complaint and runs on at the wall clock's pace.

    The demo's calls were raised at the data's last moment: on this clock their deadlines
    count down as they would have, instead of all being long past on the wall clock.
    """
    return replay_from(latest_complaint(bind))


@dataclass(frozen=True)
class RaiseResult:
    """What one pass of the rules did."""

    raised: int
    joined: int
    reopened: int
    complaints: int
    """Complaints newly attached to calls."""
    proposed: int = 0
    """Whistles proposed to the street offices (raised only when one of them blows it)."""


def raise_calls(bind: Bind, *, now: datetime, rules: WhistleRules | None = None,
                actor: str = SYSTEM) -> RaiseResult:
    """Raise a call for every border case the rules pick; join new complaints to open calls.

    Parameters
    ----------
    bind : Engine or Connection
    now : datetime
        The clock: complaints received after it are not seen.
    rules : WhistleRules, optional
        ``geo/data/whistle.toml`` when omitted.
    actor : str
        Who the events name.

    Returns
    -------
    RaiseResult

    Notes
    -----
    Idempotent: a second pass at the same time changes nothing. A case with an open call
    (raised or resolved) adds its new complaints to it, and a resolved call goes back to
    raised. A call closed less than the reopen period ago is reopened by new complaints;
    after that they raise a new call.
    """
    _check_now(now)
    rules = rules or WhistleRules.load()
    with transaction(bind) as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": RAISE_LOCK})
        focus = _key_work(conn, now)
        cases = _candidates(conn, now, rules, list(focus))
        table = categories()
        counts = {"raised": 0, "joined": 0, "reopened": 0, "complaints": 0, "proposed": 0}
        # A case whose every complaint is on a call already has nothing to join or raise: a new
        # call (after the reopen period) needs new complaints.
        for case in cases[cases["unjoined"] > 0].itertuples(index=False):
            recent = {kind: int(getattr(case, f"recent_{kind}")) for kind in KINDS}
            kind = call_kind(case.categories, recent, table, focus, rules, dispute=case.case_kind in DISPUTES)
            action = call_action(kind, case.case_kind, rules, complaints=recent.get(kind) if kind else None)
            _apply(conn, case, kind, action, focus, now, rules, actor, table, counts)
    return RaiseResult(**counts)


def _check_now(now: datetime) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValidationError(f"the clock must give a timezone-aware datetime, got {now!r}")


def _key_work(conn, now: datetime) -> dict[str, int]:
    rows = conn.execute(sa.text(
        "SELECT unnest(categories) AS category, min(id) AS project FROM project "
        "WHERE kind = 'problem_of_month' AND starts_on <= CAST(:now AS date) AND ends_on > CAST(:now AS date) "
        "GROUP BY 1"), {"now": now}).all()
    return {r.category: r.project for r in rows}


def _candidates(conn, now: datetime, rules: WhistleRules, focus: list[str]) -> pd.DataFrame:
    reach = max(max(rule.window for rule in rules.kinds.values()), rules.reopen)
    recent = ", ".join(f"count(*) FILTER (WHERE c.received_at > :since_{k}) AS recent_{k}" for k in KINDS)
    # Only cases holding a category that can raise a call, seen lately, or with a call already.
    return pd.DataFrame(conn.execute(sa.text(f"""
        SELECT b.id AS case_id, b.kind AS case_kind, b.key, b.townships, b.districts,
               array_agg(DISTINCT c.category ORDER BY c.category) AS categories, {recent},
               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM whistle_call_complaint w
                                                  WHERE w.complaint_id = c.id)) AS unjoined
        FROM border_case b
        JOIN border_case_complaint l ON l.case_id = b.id
        JOIN complaint c ON c.id = l.complaint_id AND c.received_at <= :now
        WHERE b.last_seen > :reach
          AND (b.kind = ANY(:disputes)
               OR EXISTS (SELECT 1 FROM border_case_complaint l2 JOIN complaint c2 ON c2.id = l2.complaint_id
                          JOIN category k ON k.code = c2.category
                          WHERE l2.case_id = b.id AND c2.received_at <= :now
                            AND (k.emergency OR k.enforcement OR k.code = ANY(:focus))))
        GROUP BY b.id
        -- Disputes first: a complaint across a line, in a cluster or handed back and forth answers
        -- to that call, and a near-the-line case of the same complaints raises none of its own.
        ORDER BY array_position(ARRAY['across', 'cluster', 'pingpong', 'near'], CAST(b.kind AS text)), b.id"""),
        {"now": now, "reach": now - reach, "focus": focus, "disputes": list(DISPUTES),
         **{f"since_{k}": now - rule.window for k, rule in rules.kinds.items()}}).mappings().all(),
        columns=["case_id", "case_kind", "key", "townships", "districts", "categories", *(f"recent_{k}" for k in KINDS),
                 "unjoined"])


def _apply(conn, case, kind: str | None, action: str, focus: Mapping[str, int], now: datetime,
           rules: WhistleRules, actor: str, table, counts: dict) -> None:
    latest = conn.execute(sa.text(
        "SELECT id, state, closed_at, kind FROM whistle_call WHERE case_id = :c ORDER BY id DESC LIMIT 1 FOR UPDATE"),
        {"c": case.case_id}).first()
    if latest is None and case.case_kind == "cluster":
        # The same cluster keyed by a neighbouring cell in another window: one dispute, one call.
        latest = _neighbour_call(conn, case.key)
    decision = call_decision(latest.state if latest else None, latest.closed_at if latest else None, kind, now, rules)
    if decision == "join":
        new = _join(conn, latest.id, case.case_id, now, since=latest.closed_at if latest.state == "closed" else None)
        if not new:
            return
        counts["joined"] += 1
        counts["complaints"] += new
        _event(conn, latest.id, None, now, actor, "joined", None, None, f"{new} new complaint(s)")
        # A proposal keeps waiting for its answer, and a dismissed one stays dismissed (until the
        # reopen period is over, when new complaints propose it again).
        if latest.state in ("resolved", "closed"):
            _reopen(conn, latest.id, latest.state, latest.kind, now, rules, actor)
            counts["reopened"] += 1
        _bump(conn, latest.id)
        return
    if decision == "none" or action == "none":
        return
    state = "raised" if action == "raise" else "proposed"
    since = latest.closed_at if latest is not None else None
    if not _joinable(conn, case.case_id, now, since):
        return  # its complaints answer to calls of other cases (a dispute took them first)
    project = next((focus[c] for c in case.categories if c in focus), None) if kind == "key_work" else None
    deadline = now + rules.deadline(kind)
    call_id = conn.execute(sa.text("""
        INSERT INTO whistle_call (case_id, kind, state, categories, townships, districts, project_id, complaints,
                                  raised_at, deadline_at)
        VALUES (:case, :kind, :state, :cats, :towns, :districts, :project, 0, :now, :deadline) RETURNING id"""),
        {"case": case.case_id, "kind": kind, "state": state, "cats": list(case.categories),
         "towns": list(case.townships),
         "districts": sorted(set(case.districts)), "project": project, "now": now, "deadline": deadline}).scalar_one()
    wanted = addressees(case.townships, case.categories, table)
    who = {kind: answering(conn, kind, [code for k, code in wanted if k == kind])
           for kind in ("township", "department")}
    unknown = [code for kind, code in wanted if code not in who[kind]]
    if unknown:
        raise ValidationError(f"no organisation answers for {', '.join(unknown)}: load the boundaries and "
                              "run `python -m geo db upgrade` (it syncs the departments)")
    conn.execute(sa.text(
        "INSERT INTO whistle_addressee (call_id, kind, code, organisation_id, state, deadline_at) "
        "VALUES (:call, :kind, :code, :org, 'pending', :deadline)"),
        [{"call": call_id, "kind": k, "code": code, "org": who[k][code], "deadline": deadline} for k, code in wanted])
    new = _join(conn, call_id, case.case_id, now, since=since)
    _event(conn, call_id, None, now, actor, state, None, state,
           f"{kind} call ({case.case_kind} case): {new} complaint(s), categories {', '.join(case.categories)}")
    counts[state] += 1
    counts["complaints"] += new


def _neighbour_call(conn, key: str):
    return conn.execute(sa.text(
        "SELECT w.id, w.state, w.closed_at, w.kind FROM whistle_call w JOIN border_case b ON b.id = w.case_id "
        "WHERE b.key = ANY(:keys) AND w.state IN ('proposed', 'raised', 'resolved') ORDER BY w.id LIMIT 1 "
        "FOR UPDATE OF w"), {"keys": neighbour_cluster_keys(key)}).first()


def _joinable(conn, case_id: int, now: datetime, since: datetime | None) -> bool:
    return conn.execute(sa.text("""
        SELECT EXISTS (SELECT 1 FROM border_case_complaint l JOIN complaint c ON c.id = l.complaint_id
                       WHERE l.case_id = :case AND c.received_at <= :now
                         AND (CAST(:since AS timestamptz) IS NULL OR c.received_at > :since)
                         AND NOT EXISTS (SELECT 1 FROM whistle_call_complaint w
                                         WHERE w.complaint_id = l.complaint_id))"""),
        {"case": case_id, "now": now, "since": since}).scalar()


def _join(conn, call_id: int, case_id: int, now: datetime, since: datetime | None) -> int:
    joined = conn.execute(sa.text("""
        INSERT INTO whistle_call_complaint (call_id, complaint_id, joined_at)
        SELECT :call, l.complaint_id, :now FROM border_case_complaint l JOIN complaint c ON c.id = l.complaint_id
        WHERE l.case_id = :case AND c.received_at <= :now
          AND (CAST(:since AS timestamptz) IS NULL OR c.received_at > :since)
          AND NOT EXISTS (SELECT 1 FROM whistle_call_complaint w WHERE w.complaint_id = l.complaint_id)
        ON CONFLICT DO NOTHING"""), {"call": call_id, "case": case_id, "now": now, "since": since}).rowcount
    if joined:
        conn.execute(sa.text("UPDATE whistle_call SET complaints = complaints + :n WHERE id = :id"),
                     {"n": joined, "id": call_id})
    return joined


def _reopen(conn, call_id: int, state: str, kind: str, now: datetime, rules: WhistleRules, actor: str) -> None:
    check_move("call", call_id, state, "raised")
    deadline = now + rules.deadline(kind)
    conn.execute(sa.text(
        "UPDATE whistle_call SET state = 'raised', reopened = reopened + 1, deadline_at = :d, resolved_at = NULL, "
        "closed_at = NULL, escalation = 0 WHERE id = :id"), {"d": deadline, "id": call_id})
    conn.execute(sa.text(
        "UPDATE whistle_addressee SET state = 'pending', deadline_at = :d, reported_at = NULL, done_at = NULL, "
        "late = false, escalation = 0, escalated_at = NULL WHERE call_id = :id"), {"d": deadline, "id": call_id})
    _event(conn, call_id, None, now, actor, "reopened", state, "raised", "new complaints after the call was " + state)


def _event(conn, call_id: int, addressee_id: int | None, now: datetime, actor: str, action: str,
           before: str | None, after: str | None, note: str | None) -> None:
    conn.execute(sa.insert(WhistleEvent).values(call_id=call_id, addressee_id=addressee_id, at=now, actor=actor,
                                                action=action, from_state=before, to_state=after, note=note))


def _lock(conn, call_id: int, expected_version: int | None):
    return lock_versioned(conn, "whistle_call", call_id, expected_version, "whistle call")


def _lock_raised(conn, call_id: int, expected_version: int | None, why: str):
    row = _lock(conn, call_id, expected_version)
    if row.state != "raised":
        raise ValidationError(f"call {call_id} is {row.state}; {why}")
    return row


def _check_actor(actor: str, note: str | None) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("every action needs the name of who acts (--as)")
    if note is not None and len(note) > 2000:
        raise ValidationError(f"the note has {len(note)} characters; keep it under 2,000")


def check_in(bind: Bind, call_id: int, code: str | Sequence[str], *, actor: str, now: datetime,
             done: bool = False, note: str | None = None, expected_version: int | None = None) -> int:
    """Addressees report (check in); with ``done``, they report their part done, in one step.

    Parameters
    ----------
    bind : Engine or Connection
    call_id : int
    code : str or sequence of str
        The township or department code of the addressee, or several (checked in together, in
        one transaction: all of them or none).
    actor : str
        Who acts (stored on the event).
    now : datetime
        The clock.
    done : bool
        Report the part done; a pending addressee is checked in first (two events, one step).
    note : str, optional
    expected_version : int, optional
        The call's version the actor was shown; a different one refuses the action.

    Returns
    -------
    int
        The call's new version.
    """
    _check_now(now)
    _check_actor(actor, note)
    codes = [code] if isinstance(code, str) else list(dict.fromkeys(code))
    if not codes:
        raise ValidationError(f"name the addressee(s) of call {call_id} who report")
    with transaction(bind) as conn:
        _lock_raised(conn, call_id, expected_version, "addressees act only on a raised call")
        rows = {row.code: row for row in conn.execute(sa.text(
            "SELECT * FROM whistle_addressee WHERE call_id = :c ORDER BY id"), {"c": call_id})}
        unknown = [c for c in codes if c not in rows]
        if unknown:
            raise ValidationError(f"{', '.join(map(repr, unknown))} is not an addressee of call {call_id}; "
                                  f"they are {', '.join(sorted(rows))}")
        wanted = "done" if done else "reported"
        for who in (rows[c] for c in codes):
            for step in addressee_steps(who.code, who.state, wanted):
                _report(conn, call_id, who, step, now, actor, note)
        return _bump(conn, call_id)


def _report(conn, call_id: int, who, step: str, now: datetime, actor: str, note: str | None) -> None:
    # A check-in after the deadline is marked late; reporting the part done never is.
    before = "pending" if step == "reported" else "reported"
    late = step == "reported" and now > who.deadline_at
    conn.execute(sa.text(
        f"UPDATE whistle_addressee SET state = :s, {'done_at' if step == 'done' else 'reported_at'} = :now, "
        f"{MARK_LATE} WHERE id = :id"), {"s": step, "now": now, "late": late, "id": who.id})
    _event(conn, call_id, who.id, now, actor, step, before, step,
           note if not late else f"late by {_minutes(now - who.deadline_at)} min" + (f"; {note}" if note else ""))


def _minutes(delta) -> int:
    return int(delta.total_seconds() // 60)


def _bump(conn, call_id: int) -> int:
    return conn.execute(sa.text("UPDATE whistle_call SET version = version + 1 WHERE id = :id RETURNING version"),
                        {"id": call_id}).scalar_one()


def resolve(bind: Bind, call_id: int, *, actor: str, now: datetime, note: str | None = None,
            expected_version: int | None = None) -> int:
    """Mark a raised call resolved; every addressee must have reported its part done.

    Returns the call's new version; raises :class:`geo.act.whistle.TransitionError` naming the
    addressees still at work.
    """
    return _move(bind, call_id, "resolved", actor=actor, now=now, note=note, expected_version=expected_version)


def close(bind: Bind, call_id: int, *, actor: str, now: datetime, note: str | None = None,
          expected_version: int | None = None) -> int:
    """Close a resolved call. Returns its new version."""
    return _move(bind, call_id, "closed", actor=actor, now=now, note=note, expected_version=expected_version)


def _move(bind: Bind, call_id: int, wanted: str, *, actor: str, now: datetime, note: str | None,
          expected_version: int | None) -> int:
    _check_now(now)
    _check_actor(actor, note)
    with transaction(bind) as conn:
        call = _lock(conn, call_id, expected_version)
        check_move("call", call_id, call.state, wanted)
        if wanted == "resolved":
            busy = conn.execute(sa.text("SELECT code, state FROM whistle_addressee WHERE call_id = :c "
                                        "AND state <> 'done' ORDER BY code"), {"c": call_id}).all()
            if busy:
                raise TransitionError(
                    f"call {call_id} cannot be resolved: not done yet: "
                    + ", ".join(f"{row.code} ({row.state})" for row in busy)
                    + "; report their parts done first", first="done", waiting=[row.code for row in busy])
        stamp = "resolved_at" if wanted == "resolved" else "closed_at"
        conn.execute(sa.text(f"UPDATE whistle_call SET state = :s, {stamp} = :now WHERE id = :id"),
                     {"s": wanted, "now": now, "id": call_id})
        _event(conn, call_id, None, now, actor, wanted, call.state, wanted, note)
        return _bump(conn, call_id)


def escalate(bind: Bind, call_id: int, *, actor: str, now: datetime, note: str | None = None,
             expected_version: int | None = None) -> int:
    """A coordinator escalates a raised call one level (district, then city) by hand."""
    _check_now(now)
    _check_actor(actor, note)
    with transaction(bind) as conn:
        call = _lock_raised(conn, call_id, expected_version, "only a raised call can be escalated")
        if call.escalation >= len(LEVELS) - 1:
            raise ValidationError(f"call {call_id} is already with the city; it cannot go higher")
        level = call.escalation + 1
        conn.execute(sa.text("UPDATE whistle_call SET escalation = :l WHERE id = :id"), {"l": level, "id": call_id})
        _event(conn, call_id, None, now, actor, "escalated", LEVELS[call.escalation], LEVELS[level], note)
        return _bump(conn, call_id)


def blow(bind: Bind, call_id: int, *, actor: str, now: datetime, note: str | None = None,
         kind: str | None = None, addressees: Sequence[str] | None = None, rules: WhistleRules | None = None,
         expected_version: int | None = None) -> int:
    """Blow a proposed whistle (街乡吹哨): the call is raised and its addressees' clock starts now.

    Parameters
    ----------
    kind : str, optional
        Another kind for the call (its deadline follows it); the proposal's by default.
    addressees : sequence of str, optional
        The codes of whom to summon: any of the proposal's, and any department; the
        proposal's townships and departments by default.

    Returns
    -------
    int
        The call's new version.
    """
    _check_now(now)
    _check_actor(actor, note)
    rules = rules or WhistleRules.load()
    with transaction(bind) as conn:
        call = _lock(conn, call_id, expected_version)
        check_move("call", call_id, call.state, "raised")
        kind = check_kind(kind or call.kind)
        deadline = now + rules.deadline(kind)
        if addressees is not None:
            _readdress(conn, call_id, list(dict.fromkeys(addressees)), deadline)
        conn.execute(sa.text("UPDATE whistle_call SET state = 'raised', kind = :k, raised_at = :now, deadline_at = :d "
                             "WHERE id = :id"), {"k": kind, "now": now, "d": deadline, "id": call_id})
        conn.execute(sa.text("UPDATE whistle_addressee SET deadline_at = :d WHERE call_id = :id"),
                     {"d": deadline, "id": call_id})
        _event(conn, call_id, None, now, actor, "blown", "proposed", "raised", note)
        return _bump(conn, call_id)


def _readdress(conn, call_id: int, codes: list[str], deadline: datetime) -> None:
    """Keep the proposal's addressees named in ``codes`` and summon the departments added."""
    if not codes:
        raise ValidationError(f"a whistle summons someone: name the addressees of call {call_id}")
    current = {row.code: row.kind for row in conn.execute(sa.text(
        "SELECT code, kind FROM whistle_addressee WHERE call_id = :c"), {"c": call_id})}
    added = [c for c in codes if c not in current]
    found = answering(conn, "department", added) if added else {}
    unknown = [c for c in added if c not in found]
    if unknown:
        raise ValidationError(f"{', '.join(map(repr, unknown))} is neither an addressee of call {call_id} "
                              "nor a department; a township joins a call through its border case")
    conn.execute(sa.text("DELETE FROM whistle_addressee WHERE call_id = :c AND NOT (code = ANY(:keep))"),
                 {"c": call_id, "keep": codes})
    if added:
        conn.execute(sa.text(
            "INSERT INTO whistle_addressee (call_id, kind, code, organisation_id, state, deadline_at) "
            "VALUES (:call, 'department', :code, :org, 'pending', :deadline)"),
            [{"call": call_id, "code": c, "org": found[c], "deadline": deadline} for c in added])


def dismiss(bind: Bind, call_id: int, *, actor: str, now: datetime, reason: str,
            expected_version: int | None = None) -> int:
    """Dismiss a proposed whistle, with the reason (stored on the event); its version.

    New complaints of the case within ``reopen`` days join it and leave it dismissed; later ones
    propose a new whistle.
    """
    _check_now(now)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(f"say why call {call_id} is dismissed: a reason is kept with the event")
    _check_actor(actor, reason)
    with transaction(bind) as conn:
        call = _lock(conn, call_id, expected_version)
        check_move("call", call_id, call.state, "dismissed")
        conn.execute(sa.text("UPDATE whistle_call SET state = 'dismissed', closed_at = :now WHERE id = :id"),
                     {"now": now, "id": call_id})
        _event(conn, call_id, None, now, actor, "dismissed", "proposed", "dismissed", reason.strip())
        return _bump(conn, call_id)


def escalate_due(bind: Bind, *, now: datetime, rules: WhistleRules | None = None, actor: str = "clock") -> int:
    """Escalate every addressee still pending past its deadline; returns how many moved up.

    At the deadline an addressee is late (counted once per round of the call) and goes to the
    district; ``city_after`` later, to the city. The call's level is its highest addressee's.
    """
    _check_now(now)
    rules = rules or WhistleRules.load()
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(
            "SELECT a.id, a.call_id, a.code, a.deadline_at, a.escalation FROM whistle_addressee a "
            "JOIN whistle_call c ON c.id = a.call_id WHERE a.state = 'pending' AND c.state = 'raised' "
            "AND a.deadline_at < :now ORDER BY a.call_id, a.id FOR UPDATE OF a, c"), {"now": now}).all()
        moved = 0
        for row in rows:
            level = escalation_due(row.deadline_at, now, rules)
            if level <= row.escalation:
                continue
            conn.execute(sa.text(
                f"UPDATE whistle_addressee SET escalation = :l, escalated_at = :now, {MARK_LATE} WHERE id = :id"),
                {"l": level, "now": now, "late": True, "id": row.id})
            conn.execute(sa.text("UPDATE whistle_call SET escalation = greatest(escalation, :l), version = version + 1 "
                                 "WHERE id = :c"), {"l": level, "c": row.call_id})
            _event(conn, row.call_id, row.id, now, actor, "escalated", LEVELS[row.escalation], LEVELS[level],
                   f"{row.code} has not reported; {_minutes(now - row.deadline_at)} min past the deadline")
            moved += 1
    return moved


def calls(bind: Bind, *, now: datetime, state: str | None = None, township: str | None = None,
          organisation: int | None = None, limit: int = 500, offset: int = 0,
          where: QueueFilter | None = None) -> pd.DataFrame:
    """Calls, most urgent first: emergencies, then late addressees, then the nearest deadline.

    ``organisation`` keeps the calls addressed to that organisation (by id) and puts first the
    ones it has not answered yet (``mine``: its addressee's state); ``where`` filters the queue
    (:class:`geo.act.whistle.QueueFilter`; ``state`` and ``township`` are its shorthands). Each row
    carries ``total``, the number of calls the filter matches, for paging.
    """
    where = where or QueueFilter(state=state, township=township)
    if limit < 1 or offset < 0:
        raise ValidationError(f"a page needs a positive size and an offset of 0 or more, got {limit} and {offset}")
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(f"""
            WITH {_MATCHED}
            SELECT c.id, c.case_id, c.kind, c.state, c.townships, c.districts, c.categories, c.complaints,
                   c.raised_at, c.deadline_at, c.escalation, c.version,
                   count(a.id) AS addressees,
                   count(a.id) FILTER (WHERE a.state = 'pending') AS pending,
                   count(a.id) FILTER (WHERE {late_sql(':now')}) AS late,
                   (array_agg(a.state ORDER BY array_position(ARRAY['pending', 'reported', 'done'],
                                                             CAST(a.state AS text)))
                    FILTER (WHERE a.organisation_id = CAST(:org AS integer)))[1] AS mine,
                   (SELECT count(*) FROM matched) AS total
            FROM whistle_call c JOIN matched m ON m.id = c.id JOIN whistle_addressee a ON a.call_id = c.id
            GROUP BY c.id
            ORDER BY (c.state IN ('closed', 'dismissed')), (c.state = 'proposed'),
                     bool_or(a.organisation_id = CAST(:org AS integer) AND a.state = 'pending') DESC NULLS LAST,
                     (c.kind = 'emergency') DESC,
                     count(a.id) FILTER (WHERE a.state = 'pending' AND a.deadline_at < :now) DESC,
                     c.deadline_at, c.id
            LIMIT :limit OFFSET :offset"""),
            {**_matched_params(where, now, organisation), "limit": limit, "offset": offset}).mappings().all()
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def call_pairs(bind: Bind, *, now: datetime, organisation: int | None = None,
               where: QueueFilter | None = None) -> pd.DataFrame:
    """The calls :func:`calls` would list, counted by the townships they lie between.

    Returns
    -------
    pandas.DataFrame
        ``townships`` (the codes, sorted), ``calls``, ``emergencies`` and ``late`` (calls with a
        late addressee), the pairs with the most late calls first, then the most calls.
    """
    where = where or QueueFilter(state=None)  # as :func:`calls`: no filter, every state
    # Grouped in SQL: the queue refreshes itself every few seconds, and every matching call
    # (tens of thousands on a busy quarter) read into pandas to be counted cost more than the page.
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(f"""
            WITH {_MATCHED}
            SELECT (SELECT array_agg(t ORDER BY t) FROM unnest(c.townships) t) AS townships,
                   count(*) AS calls, count(*) FILTER (WHERE c.kind = 'emergency') AS emergencies,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM whistle_addressee a WHERE a.call_id = c.id
                                                  AND {late_sql(':now')})) AS late
            FROM whistle_call c JOIN matched m ON m.id = c.id
            GROUP BY 1 ORDER BY late DESC, calls DESC, 1"""), _matched_params(where, now, organisation)).all()
    return pd.DataFrame([(list(t), int(n), int(e), int(late)) for t, n, e, late in rows],
                        columns=["townships", "calls", "emergencies", "late"])


# The calls a queue's filter matches (and that an organisation's user may see): one definition
# for the queue's pages and its counts by township pair.
_MATCHED = f"""matched AS (
              SELECT c.id FROM whistle_call c
              WHERE (CAST(:state AS text) IS NULL OR c.state = :state)
                AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
                AND (CAST(:town AS text) IS NULL OR c.townships @> ARRAY[CAST(:town AS varchar)])
                AND (CAST(:district AS text) IS NULL OR c.districts @> ARRAY[CAST(:district AS varchar)])
                AND {addressed_sql(':org')}
                AND (NOT :late OR EXISTS (SELECT 1 FROM whistle_addressee a WHERE a.call_id = c.id
                                          AND {late_sql(':now')}))
                AND (CAST(:search AS text) IS NULL OR c.id = CAST(:search_id AS bigint)
                     OR EXISTS (SELECT 1 FROM whistle_call_complaint w JOIN complaint p ON p.id = w.complaint_id
                                WHERE w.call_id = c.id AND (p.source_id = :search
                                                            OR p.address ILIKE :pattern ESCAPE '\\')))
            )"""


def _matched_params(where: QueueFilter, now: datetime, organisation: int | None) -> dict:
    return {"now": now, "state": where.state, "kind": where.kind, "town": where.township,
            "district": where.district, "org": organisation, "late": where.late, "search": where.search,
            "search_id": where.call_id, "pattern": None if where.search is None else f"%{_like(where.search)}%"}


QUEUE_COLUMNS = ["id", "case_id", "kind", "state", "townships", "districts", "categories", "complaints", "raised_at",
                 "deadline_at", "escalation", "version", "addressees", "pending", "late", "mine", "total"]


def _like(text: str) -> str:
    """``text`` matched literally by LIKE (its wildcards and the escape character escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def addressed_calls(bind: Bind, organisation: int, *, now: datetime, state: str | None = "raised",
                    limit: int = 1_000) -> pd.DataFrame:
    """The calls addressed to an organisation (a department's own system reads them), most urgent
    first, each with that organisation's addressee: ``code``, ``your_state``, ``your_deadline``,
    ``late``."""
    queue = calls(bind, now=now, organisation=organisation, where=QueueFilter(state=state), limit=limit)
    if queue.empty:
        return queue.assign(code=[], your_state=[], your_deadline=[], your_late=[])
    with transaction(bind) as conn:
        mine = pd.DataFrame(conn.execute(sa.text(f"""
            SELECT DISTINCT ON (a.call_id) a.call_id AS id, a.code, a.state AS your_state,
                   a.deadline_at AS your_deadline, {late_sql(':now')} AS your_late
            FROM whistle_addressee a JOIN whistle_call c ON c.id = a.call_id
            WHERE a.organisation_id = :org AND a.call_id = ANY(:ids)
            ORDER BY a.call_id, a.id"""), {"org": organisation, "ids": queue["id"].tolist(), "now": now})
            .mappings().all(), columns=["id", "code", "your_state", "your_deadline", "your_late"])
    return queue.merge(mine, on="id", how="left")


def addressee_code(bind: Bind, call_id: int, organisation: int) -> str | None:
    """The code under which an organisation is addressed on a call (None: it is not)."""
    with transaction(bind) as conn:
        return conn.execute(sa.text("SELECT code FROM whistle_addressee WHERE call_id = :c AND organisation_id = :o "
                                    "ORDER BY id LIMIT 1"), {"c": call_id, "o": organisation}).scalar()


def whistle_month(bind: Bind, month_start: datetime, month_end: datetime) -> pd.DataFrame:
    """Each township's whistles of a month (the reform watches the rate: neither too few nor too many).

    ``whistles`` are the calls raised on it in ``[month_start, month_end)`` (at once by the rules,
    or blown from a proposal), ``proposed`` the whistles proposed to it, ``dismissed`` the proposals
    it or a coordinator dismissed; one row per township with any.
    """
    with transaction(bind) as conn:
        return pd.DataFrame(conn.execute(sa.text("""
            SELECT t.code AS township_code,
                   count(DISTINCT e.call_id) FILTER (WHERE e.action IN ('raised', 'blown')) AS whistles,
                   count(DISTINCT e.call_id) FILTER (WHERE e.action = 'proposed') AS proposed,
                   count(DISTINCT e.call_id) FILTER (WHERE e.action = 'dismissed') AS dismissed
            FROM whistle_event e JOIN whistle_call c ON c.id = e.call_id, unnest(c.townships) AS t(code)
            WHERE e.at >= :s AND e.at < :e AND e.action IN ('raised', 'blown', 'proposed', 'dismissed')
            GROUP BY t.code ORDER BY t.code"""), {"s": month_start, "e": month_end}).mappings().all(),
            columns=["township_code", "whistles", "proposed", "dismissed"])


@dataclass(frozen=True)
class CallDetail:
    """One call with who it is addressed to, its complaints and its history."""

    call: dict
    addressees: pd.DataFrame
    complaints: pd.DataFrame
    events: pd.DataFrame


def call_detail(bind: Bind, call_id: int) -> CallDetail:
    """Everything about one call (complaints with the masked phone only)."""
    with transaction(bind) as conn:
        call = conn.execute(sa.text("SELECT c.*, ST_AsText(b.geom) AS case_wkt, b.kind AS case_kind "
                                    "FROM whistle_call c JOIN border_case b ON b.id = c.case_id WHERE c.id = :id"),
                            {"id": call_id}).mappings().first()
        if call is None:
            raise ValidationError(f"there is no whistle call {call_id}")
        frames = [pd.DataFrame(conn.execute(sa.text(sql), {"id": call_id}).mappings().all()) for sql in (
            "SELECT a.id, a.kind, a.code, a.organisation_id, o.name AS organisation, a.state, a.deadline_at, "
            "a.reported_at, a.done_at, a.late, a.escalation FROM whistle_addressee a "
            "JOIN organisation o ON o.id = a.organisation_id WHERE a.call_id = :id ORDER BY a.kind DESC, a.code",
            "SELECT c.source_id, c.received_at, c.category, c.township_code, c.lon, c.lat, c.phone_masked, c.text "
            "FROM whistle_call_complaint w JOIN complaint c ON c.id = w.complaint_id WHERE w.call_id = :id "
            "ORDER BY c.received_at",
            "SELECT at, actor, action, from_state, to_state, note FROM whistle_event WHERE call_id = :id "
            "ORDER BY at, id")]
    return CallDetail(dict(call), *frames)
