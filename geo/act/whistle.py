"""Cross-jurisdiction whistle calls (街乡吹哨、部门报到): rules, addressees, states, deadlines.

Pure functions and small value types; :mod:`geo.act.whistle_db` keeps the calls in PostGIS.

- A border case raises a call of one kind (:func:`call_kind`): **emergency** when any of its
  categories is an emergency one (a single complaint is enough), **key work** when a category
  is the target of an active problem-of-the-month project, **enforcement** when a category
  needs enforcement on site and the case has enough complaints within the window. The
  thresholds and deadlines are data (``geo/data/whistle.toml``).
- A call is addressed to every township of the case and to every department its categories
  need (:func:`addressees`; the township offices are the townships themselves).
- The life of a call: ``raised -> resolved -> closed``, and back to ``raised`` when new
  complaints arrive (:data:`CALL_MOVES`); of an addressee: ``pending -> reported -> done``
  (:data:`ADDRESSEE_MOVES`). :func:`check_move` refuses anything else with a clear error.
- An addressee still pending at its deadline is late and escalated to the district, then to the
  city (:func:`escalation_due`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from geo.act.categories import Category
from geo.errors import ValidationError
from geo.rules import positive, read_rules, rules_path, section, whole
from geo.settings import DATA_DIR

RULES_FILE = DATA_DIR / "whistle.toml"
"""The shipped rules; the ones in use are read from ``WHISTLE_RULES_DIR`` (this folder by default)."""
KINDS = ("emergency", "key_work", "enforcement", "dispute")
"""Call kinds, most urgent first: a case with categories of several kinds takes the first; a
dispute (a footprint or a cluster across a line, a "not ours" ping-pong) is one whatever its
categories."""
DISPUTES = ("across", "cluster", "pingpong")
"""The kinds of border case where responsibility is really in doubt."""
CASE_ACTIONS = ("raise", "propose", "none")
"""What a kind of border case does when the rules pick it (``whistle.toml`` [cases])."""
CALL_MOVES = {"proposed": {"raised", "dismissed"}, "raised": {"resolved"}, "resolved": {"closed", "raised"},
              "closed": {"raised"}, "dismissed": set()}
"""A proposed whistle is blown (raised) or dismissed by a street office or a coordinator."""
ADDRESSEE_MOVES = {"pending": {"reported"}, "reported": {"done"}, "done": set()}
LEVELS = ("township", "district", "city")
TOWNSHIP_OFFICE = "township_office"


FIRST_STEPS = ("done", "resolve")
"""What a refused move may need first: the addressees' parts reported done, or the call resolved
(:attr:`TransitionError.first`); the app offers that step with the move."""


class TransitionError(ValidationError):
    """An action that the call's (or addressee's) state does not allow.

    ``first`` names the step that has to happen first when there is one (one of
    :data:`FIRST_STEPS`), ``waiting`` the addressees it concerns, so that a refusal can say, in a
    sentence, what to do and offer to do it.
    """

    def __init__(self, message: str, *, first: str | None = None, waiting: Iterable[str] = ()) -> None:
        super().__init__(message)
        if first is not None and first not in FIRST_STEPS:
            raise ValueError(f"unknown first step {first!r}")
        self.first = first
        self.waiting = tuple(waiting)


@dataclass(frozen=True)
class KindRule:
    """When a kind of call is raised and how long its addressees have to report."""

    deadline: timedelta
    min_complaints: int
    window: timedelta


@dataclass(frozen=True)
class QueueRules:
    """How the app shows the queue: calls a page, seconds between refreshes, calls on its map."""

    page_size: int = 50
    refresh_seconds: float = 20.0
    map_calls: int = 500


@dataclass(frozen=True)
class WhistleRules:
    """The rules of whistle calls; :meth:`load` reads ``geo/data/whistle.toml``."""

    kinds: Mapping[str, KindRule]
    city_after: timedelta
    reopen: timedelta
    queue: QueueRules = QueueRules()
    cases: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(("near", *DISPUTES), "raise"))
    """What each kind of border case does: raise, propose or none (an emergency always raises)."""
    near_min_complaints: int = 1
    """A near-the-line case (not an emergency) calls only with this many complaints in its kind's window."""

    @classmethod
    def load(cls, path: Path | str | None = None) -> WhistleRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("whistle.toml")
        raw = read_rules(path, "whistle rules")
        kinds = {}
        for kind in KINDS:
            table, where = section(raw, f"kinds.{kind}", path), f"{path} [kinds.{kind}]"
            kinds[kind] = KindRule(deadline=timedelta(minutes=positive(table, "deadline_minutes", where)),
                                   min_complaints=int(positive(table, "min_complaints", where)),
                                   window=timedelta(days=positive(table, "window_days", where)))
        return cls(kinds=kinds,
                   city_after=timedelta(minutes=positive(raw.get("escalation"), "city_after_minutes",
                                                         f"{path} [escalation]")),
                   reopen=timedelta(days=positive(raw.get("lifecycle"), "reopen_days", f"{path} [lifecycle]")),
                   queue=QueueRules(page_size=whole(raw.get("queue"), "page_size", f"{path} [queue]"),
                                    refresh_seconds=positive(raw.get("queue"), "refresh_seconds", f"{path} [queue]"),
                                    map_calls=whole(raw.get("queue"), "map_calls", f"{path} [queue]")),
                   cases=_case_actions(section(raw, "cases", path), f"{path} [cases]"),
                   near_min_complaints=whole(section(raw, "cases", path), "near_min_complaints", f"{path} [cases]"))

    def deadline(self, kind: str) -> timedelta:
        """The time an addressee of a ``kind`` call has to report."""
        return self.kinds[check_kind(kind)].deadline


def _case_actions(table: dict, where: str) -> dict[str, str]:
    actions = {}
    for kind in ("near", *DISPUTES):
        value = table.get(kind)
        if value not in CASE_ACTIONS:
            raise ValidationError(f"{where}: {kind} was {value!r}; it must be one of {', '.join(CASE_ACTIONS)}")
        actions[kind] = value
    return actions


def call_action(kind: str | None, case_kind: str, rules: WhistleRules, complaints: int | None = None) -> str:
    """Whether a case the rules give ``kind`` raises a call, proposes one or does nothing.

    An emergency always raises (one complaint in an emergency category on a line); anything else
    does what ``[cases]`` says for its kind of case (``near``, ``across``, ``cluster``,
    ``pingpong``): the reform's whistle is a deliberate act, which the rules mostly only propose.
    A near-the-line case needs ``near_min_complaints`` of its ``complaints`` (in the kind's window):
    a problem that keeps coming back at one spot of the line, not three reports that happen to fall
    within a phone's fix of it.
    """
    if kind is None:
        return "none"
    if kind == "emergency":
        return "raise"
    if case_kind == "near" and complaints is not None and complaints < rules.near_min_complaints:
        return "none"
    return rules.cases.get(case_kind, "propose")


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a call kind, else raise naming the kinds."""
    if kind not in KINDS:
        raise ValidationError(f"unknown call kind {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def call_kind(categories: Iterable[str], recent: int | Mapping[str, int], table: Mapping[str, Category],
              key_work: Iterable[str], rules: WhistleRules, *, dispute: bool = False) -> str | None:
    """The kind of call a border case raises, or None.

    Parameters
    ----------
    categories : iterable of str
        The categories of the case's complaints.
    recent : int or mapping
        How many of its complaints arrived within each kind's window (``{kind: count}``), or
        one count for every kind.
    table : mapping
        The category table (:func:`geo.act.categories.categories`).
    key_work : iterable of str
        Categories of the problem-of-the-month projects active now.
    rules : WhistleRules
    dispute : bool
        Whether the case is one where responsibility is in doubt (:data:`DISPUTES`): it is a
        ``"dispute"`` call when no more urgent kind applies.

    Returns
    -------
    str or None
        ``"emergency"``, ``"key_work"``, ``"enforcement"``, ``"dispute"`` or None (no call).
    """
    counts = recent if isinstance(recent, Mapping) else dict.fromkeys(KINDS, recent)
    found = [table[c] for c in set(categories) if c in table]
    focus = set(key_work)
    wants = {"emergency": any(c.emergency for c in found),
             "key_work": any(c.code in focus for c in found),
             "enforcement": any(c.enforcement for c in found), "dispute": dispute}
    for kind in KINDS:
        if wants[kind] and counts[kind] >= rules.kinds[kind].min_complaints:
            return kind
    return None


def addressees(townships: Iterable[str], categories: Iterable[str],
               table: Mapping[str, Category]) -> list[tuple[str, str]]:
    """Who a call goes to: ``(kind, code)`` for every township, then every department needed.

    The township office named by a category is each township itself, so it is not a separate
    addressee. Sorted, so that the same case always gives the same list.
    """
    towns = sorted(set(townships))
    if len(towns) < 2:
        raise ValidationError(f"a cross-jurisdiction call needs two townships or more, got {towns}")
    needed = {d for c in set(categories) if c in table for d in table[c].departments} - {TOWNSHIP_OFFICE}
    return [("township", t) for t in towns] + [("department", d) for d in sorted(needed)]


def check_move(what: str, ident: object, current: str, wanted: str) -> None:
    """Refuse a move that the state machine does not allow.

    Parameters
    ----------
    what : str
        ``"call"`` or ``"addressee"``.
    ident : object
        Named in the error (the call id, or the addressee's code).
    current, wanted : str
        The states.

    Raises
    ------
    TransitionError
        Naming the object, both states and the moves allowed from the current one; a call
        closed while still raised says that it is resolved first.
    """
    moves = CALL_MOVES if what == "call" else ADDRESSEE_MOVES
    if wanted not in moves.get(current, set()):
        allowed = ", ".join(sorted(moves.get(current, set()))) or "nothing"
        first = "resolve" if (what, current, wanted) == ("call", "raised", "closed") else None
        raise TransitionError(f"{what} {ident} is {current}; it cannot become {wanted} (from {current}: {allowed})",
                              first=first)


def addressee_steps(code: str, current: str, wanted: str) -> list[str]:
    """The states an addressee passes through from ``current`` to ``wanted``, in order.

    Reporting a part done implies the check-in: ``pending -> done`` is ``["reported", "done"]``,
    each step its own event, so the history says when the addressee checked in.

    Raises
    ------
    TransitionError
        When ``wanted`` cannot be reached from ``current`` (already there, or past it).
    """
    path, state = [], current
    # The addressee's states are a chain (each has one next state): walk it to the one wanted.
    while state != wanted and ADDRESSEE_MOVES.get(state) and len(path) < len(ADDRESSEE_MOVES):
        state = next(iter(ADDRESSEE_MOVES[state]))
        path.append(state)
    if state != wanted or not path:
        check_move("addressee", code, current, wanted)  # raises, naming the moves allowed
    return path


def escalation_due(deadline: datetime, now: datetime, rules: WhistleRules) -> int:
    """The escalation level a still-pending addressee has reached: 0, 1 (district) or 2 (city)."""
    if now <= deadline:
        return 0
    return 2 if now > deadline + rules.city_after else 1


def call_decision(state: str | None, closed_at: datetime | None, kind: str | None, now: datetime,
                  rules: WhistleRules) -> str:
    """What a case's new complaints do: join its latest call, raise a new one, or nothing.

    Parameters
    ----------
    state, closed_at : str and datetime, or None
        The case's latest call (None when it has had none).
    kind : str or None
        The kind of call the rules give the case now (None: the rules raise none).
    now : datetime
        The moment of deciding.
    rules : WhistleRules
        Gives how long a closed call may be reopened.

    Returns
    -------
    str
        ``"join"`` (a call still open, or closed less than ``reopen`` ago, takes them and is
        reopened when not raised), ``"raise"`` or ``"none"``.
    """
    if state is not None and (state not in ("closed", "dismissed")
                              or (closed_at is not None and closed_at > now - rules.reopen)):
        return "join"
    return "none" if kind is None else "raise"


CALL_STATES = tuple(CALL_MOVES)


@dataclass(frozen=True)
class QueueFilter:
    """Which calls a queue shows: every field narrows it, None (or False) leaves it open.

    ``search`` finds a call by its id (``123`` or ``#123``), by the source id of one of its
    complaints, or by a piece of a complaint's address.
    """

    state: str | None = "raised"
    kind: str | None = None
    district: str | None = None
    township: str | None = None
    late: bool = False
    search: str | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in CALL_STATES:
            raise ValidationError(f"unknown call state {self.state!r}; use {', '.join(CALL_STATES)}")
        if self.kind is not None:
            check_kind(self.kind)
        if self.search is not None:
            text = self.search.replace("\x00", "").strip()
            if len(text) > 200:
                raise ValidationError(f"the search has {len(text)} characters; keep it under 200")
            object.__setattr__(self, "search", text or None)

    @property
    def call_id(self) -> int | None:
        """The call id the search names, if it is one (``123`` or ``#123``)."""
        text = (self.search or "").removeprefix("#")
        return int(text) if text.isdigit() and len(text) < 18 else None


def whistle_rate(whistles, volume):
    """Whistles per 1,000 complaints (NaN where there were no complaints): comparable across
    townships of any size."""
    whistles, volume = np.asarray(whistles, dtype=float), np.asarray(volume, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(volume > 0, 1000.0 * whistles / volume, np.nan)
