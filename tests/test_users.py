"""Users: roles, bcrypt hashes, sign-in with a brake on guessing, and the command line."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from geo.act.users import _DUMMY, check_role, check_username, hash_password, verify_password
from geo.act.users_db import LOCKOUT, MAX_FAILURES, authenticate, create_user, set_active, users
from geo.errors import ValidationError
from tests.helpers import ROOT, assert_one_line_error, geo

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
GUANGANMENWAI = "110102020"
PASSWORD = "correct horse battery"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: check_username("x"), "2 to 32 characters"),
    (lambda: check_username("<script>"), "2 to 32 characters"),
    (lambda: check_username("1abc"), "2 to 32 characters"),
    (lambda: check_role("mayor", None), "role 'mayor' is unknown"),
    (lambda: check_role("street_office", None), "needs the township"),
    (lambda: check_role("supervisor", GUANGANMENWAI), "only for street-office users"),
    (lambda: hash_password("short"), "at least 10 characters"),
    (lambda: hash_password("密" * 30), "at most 72 bytes"),
    # Weak: the commonest passwords (any case), one character, few digits alone, the username.
    (lambda: hash_password("qwertyuiop"), "most common"),
    (lambda: hash_password("Password123"), "most common"),
    (lambda: hash_password("aaaaaaaaaaaa"), "one character repeated"),
    (lambda: hash_password("13812345678"), "digits only"),
    (lambda: hash_password("zhang.wei-2026!", "Zhang.Wei"), "user name"),
])
def test_bad_users_are_refused_by_name(call, message):
    with pytest.raises(ValidationError, match=message):
        call()


def test_passwords_are_hashed_and_checked():
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$2b$12$")
    assert PASSWORD not in hashed
    assert verify_password(PASSWORD, hashed)
    assert not verify_password("wrong password!", hashed)
    assert not verify_password(PASSWORD, None)  # an unknown user: same work, no match
    # The unknown user's check costs what a real one does: its fixed hash has the same cost.
    assert _DUMMY[:7].decode() == hashed[:7]
    assert check_username("  Li.Wei ") == "li.wei"


def test_sign_in_roles_and_lockout(complaints_engine):
    office = create_user(complaints_engine, "office", PASSWORD, role="street_office", township_code=GUANGANMENWAI,
                         display_name="Guang'anmenwai")
    create_user(complaints_engine, "boss", PASSWORD, role="supervisor")
    with complaints_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM app_user WHERE id = :i"), {"i": office}).scalar()
    assert PASSWORD not in stored
    user = authenticate(complaints_engine, "Office", PASSWORD, now=NOW)
    assert (user.id, user.username, user.display_name, user.role, user.townships) == \
        (office, "office", "Guang'anmenwai", "street_office", (GUANGANMENWAI,))
    with complaints_engine.connect() as conn:
        org = conn.execute(sa.text("SELECT o.code, o.kind, o.name FROM organisation o JOIN app_user u "
                                   "ON u.organisation_id = o.id WHERE u.id = :i"), {"i": office}).one()
    # A street-office user works for the organisation that answers for its township, not for a code.
    assert tuple(org) == (f"so-{GUANGANMENWAI}", "street_office", user.organisation)
    assert not user.city_wide
    assert authenticate(complaints_engine, "boss", PASSWORD, now=NOW).city_wide
    assert authenticate(complaints_engine, "office", "not the password", now=NOW) is None
    assert authenticate(complaints_engine, "nobody", PASSWORD, now=NOW) is None
    with pytest.raises(ValidationError, match="is taken"):
        create_user(complaints_engine, "office", PASSWORD, role="supervisor")
    with pytest.raises(ValidationError, match="not a current township"):
        create_user(complaints_engine, "ghost", PASSWORD, role="street_office", township_code="999")
    # Guessing: after five failures in a row the name is refused, even with the right password,
    # until the window has passed; the other users are not affected.
    for i in range(MAX_FAILURES):
        assert authenticate(complaints_engine, "boss", f"guess number {i}", now=NOW + timedelta(seconds=i + 1)) is None
    with pytest.raises(ValidationError, match="too many failed sign-ins"):
        authenticate(complaints_engine, "boss", PASSWORD, now=NOW + timedelta(minutes=1))
    assert authenticate(complaints_engine, "office", PASSWORD, now=NOW + timedelta(minutes=1)) is not None
    assert authenticate(complaints_engine, "boss", PASSWORD, now=NOW + LOCKOUT + timedelta(minutes=1)) is not None
    set_active(complaints_engine, "office", False)
    assert authenticate(complaints_engine, "office", PASSWORD, now=NOW + timedelta(hours=1)) is None
    with pytest.raises(ValidationError, match="there is no user"):
        set_active(complaints_engine, "nobody", False)
    listed = users(complaints_engine)
    assert "password_hash" not in listed.columns
    assert listed.set_index("username").loc["office", "active"] == False  # noqa: E712


def test_users_on_the_command_line(complaints_db_url, complaints_engine):
    env = {"DATABASE_URL": complaints_db_url, "COLUMNS": "200"}
    done = geo("users", "demo", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("created") == 3
    assert geo("users", "demo", env=env).stdout.count("exists") == 3
    assert authenticate(complaints_engine, "guanganmenwai", "whistle-street-office", now=NOW).township_code == \
        GUANGANMENWAI
    added = geo("users", "add", "zhang", "--role", "coordinator", "--password", PASSWORD, env=env)
    assert added.returncode == 0, added.stderr
    listed = geo("users", "list", env=env)
    assert "zhang" in listed.stdout
    assert "$2b$" not in listed.stdout
    assert_one_line_error(geo("users", "add", "li", "--role", "street_office", "--password", PASSWORD, env=env),
                          "needs the township")
    assert_one_line_error(geo("users", "add", "li", "--role", "supervisor", "--password", "short", env=env),
                          "at least 10 characters")
    assert geo("users", "disable", "zhang", env=env).returncode == 0


def test_good_passwords_pass_the_weak_checks():
    for password in (PASSWORD, "123456789012", "黄河远上白云间"[:5] * 2, "Tiananmen-1949"):
        assert hash_password(password, "zhang").startswith("$2b$")


def test_parallel_guesses_get_no_more_checks_than_the_limit(complaints_engine):
    """20 wrong sign-ins at once: five are checked and stored as failures, the others refused."""
    from concurrent.futures import ThreadPoolExecutor

    create_user(complaints_engine, "target", PASSWORD, role="supervisor")

    def guess(i: int) -> str:
        try:
            return "wrong" if authenticate(complaints_engine, "target", f"guess number {i}", now=NOW) is None else "in"
        except ValidationError:
            return "refused"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(guess, range(20)))
    assert sorted(set(outcomes)) == ["refused", "wrong"]
    assert outcomes.count("wrong") == MAX_FAILURES
    with complaints_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM login_event WHERE username = 'target' AND NOT ok")).scalar()
    assert stored == MAX_FAILURES


def test_a_disabled_or_changed_user_is_signed_out_and_may_not_act(complaints_db_url, complaints_engine):
    from streamlit.testing.v1 import AppTest

    from geo.act.users_db import live_user
    from geo.errors import AccessError
    from geo.show import dashboard_db as dashboard
    from tests.helpers import signed_in

    user = signed_in(complaints_db_url, "lin", "supervisor")
    assert live_user(complaints_engine, user) == user
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user"] = user
    os.environ["DATABASE_URL"] = complaints_db_url
    try:
        at.run()
        assert not at.exception
        assert "lin" in " ".join(c.value for c in at.sidebar.caption)
        set_active(complaints_engine, "lin", False)
        at.run()
        assert "您已退出登录" in at.warning[0].value
        assert "user" not in at.session_state
        assert at.text_input(key="login_username")
    finally:
        os.environ.pop("DATABASE_URL", None)
    assert live_user(complaints_engine, user) is None
    with pytest.raises(AccessError, match="sign in again"):
        dashboard.ingest_for(complaints_engine, user, ROOT / "README.md")
    # Enabled again but given another role: the session's user is no longer who signed in.
    set_active(complaints_engine, "lin", True)
    create_user(complaints_engine, "lin", PASSWORD, role="coordinator", replace=True)
    assert live_user(complaints_engine, user) is None
    with complaints_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM app_user WHERE username = 'lin'"))
    assert live_user(complaints_engine, user) is None
