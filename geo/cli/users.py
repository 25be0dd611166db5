"""``python -m geo users``: the app's users (supervisors, street offices, coordinators)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out

users_app = typer.Typer(help="The app's users: add, list, disable, and the demo users.", no_args_is_help=True)

DEMO_USERS = (
    ("supervisor", "whistle-city-watch", "supervisor", None, "市级监管员（演示）"),
    ("guanganmenwai", "whistle-street-office", "street_office", "110102020", "广安门外街道（演示）"),
    ("coordinator", "whistle-border-desk", "coordinator", None, "统筹协调员（演示）"),
)
"""One user per role for the demo, listed in the README: username, password, role, township, name."""


@users_app.command("add")
def add_command(username: str,
                role: Annotated[str, typer.Option(help="supervisor, street_office or coordinator.")],
                township: Annotated[str | None, typer.Option(
                    help="Street offices: the township code whose office the user works for.")] = None,
                organisation: Annotated[str | None, typer.Option(
                    help="Street offices: the organisation's code instead (see `organisations list`).")] = None,
                name: Annotated[str | None, typer.Option(help="The name shown in the app.")] = None,
                password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                      help="Asked for when not given (10 to 72 bytes).")] = "",
                replace: Annotated[bool, typer.Option(help="Reset the user if the name is taken.")] = False) -> None:
    """Add a user (the password is asked for and stored as a bcrypt hash only)."""
    from geo.act.users_db import create_user

    user_id = create_user(_engine(), username, password, role=role, township_code=township,
                          organisation=organisation, display_name=name, replace=replace)
    out.print(f"user {escape(username)} ({role}) is number {user_id}")


@users_app.command("list")
def list_command() -> None:
    """Every user with role, organisation, its townships and last sign-in (never the password)."""
    import pandas as pd

    from geo.act.users_db import users

    grid = Table("username", "name", "role", "organisation", "townships", "active", "last sign-in")
    for row in users(_engine()).itertuples(index=False):
        seen = "" if pd.isna(row.last_login_at) else f"{row.last_login_at:%Y-%m-%d %H:%M}"
        townships = ", ".join(row.townships) if row.role == "street_office" else ""
        grid.add_row(escape(row.username), escape(row.display_name), row.role,
                     f"{escape(row.organisation)} ({escape(row.organisation_code)})", townships,
                     "yes" if row.active else "no", seen)
    out.print(grid)


@users_app.command("disable")
def disable_command(username: str,
                    enable: Annotated[bool, typer.Option(help="Enable the user again.")] = False) -> None:
    """Disable a user (they can no longer sign in), or enable them again."""
    from geo.act.users_db import set_active

    set_active(_engine(), username, enable)
    out.print(f"user {escape(username)} {'enabled' if enable else 'disabled'}")


@users_app.command("demo")
def demo_command() -> None:
    """Create the demo users (one per role) unless they exist; the README lists their passwords."""
    from geo.act.users_db import create_user, users

    engine = _engine()
    existing = set(users(engine)["username"])
    for username, password, role, township, name in DEMO_USERS:
        if username in existing:
            out.print(f"demo user {username} exists")
            continue
        create_user(engine, username, password, role=role, township_code=township, display_name=name)
        out.print(f"demo user {username} ({role}) created")


organisations_app = typer.Typer(help="Organisations: street offices, district offices, departments, the city.",
                                no_args_is_help=True)


@organisations_app.command("list")
def organisations_command() -> None:
    """Every organisation, the areas it answers for now, and how many users work for it."""
    from geo.act.organisations_db import organisations

    grid = Table("code", "kind", "name", "answers for", "users", "active")
    for row in organisations(_engine()).itertuples(index=False):
        grid.add_row(escape(row.code), row.kind, escape(row.name), ", ".join(row.areas), str(row.users),
                     "yes" if row.active else "no")
    out.print(grid)
