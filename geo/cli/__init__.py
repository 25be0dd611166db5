"""The command line: ``python -m geo --help``, one module per command group.

Every command prints what it did; an error is one line on stderr and a non-zero exit code
(set ``WHISTLE_DEBUG=1`` to see the traceback of an unexpected one). Modules import the heavy
libraries inside the commands, so that ``--help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from geo.cli import ingest as _ingest
from geo.cli.boundaries import boundaries_app
from geo.cli.db import db_app
from geo.cli.detect import detect_app
from geo.cli.governance import governance_app
from geo.cli.live import api, clock_app, keys_app, worker
from geo.cli.projects import project_app
from geo.cli.reports import report_app
from geo.cli.serve import replay, serve
from geo.cli.shared import err
from geo.cli.users import organisations_app, users_app
from geo.cli.whistle import whistle_app
from geo.errors import WhistleError

app = typer.Typer(help="Whistle: spatial governance for the 12345 citizen hotline.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def _city(city: Annotated[str | None, typer.Option(
        "--city", help="The city served: a code under cities/, or a city.toml (WHISTLE_CITY).")] = None,
          language: Annotated[str | None, typer.Option(
        "--language", help="The language of reports and messages: zh_CN or en (WHISTLE_LANGUAGE; "
                           "the city's by default).")] = None) -> None:
    """Whistle: spatial governance for the 12345 citizen hotline."""
    if language:
        from geo.i18n import check_language

        os.environ["WHISTLE_LANGUAGE"] = check_language(language)
    if city:
        from geo.city import city_file, load_city

        load_city(city_file(city))  # a wrong city is named before the command runs
        # The environment, so that the processes a command starts (serve) serve it too.
        os.environ["WHISTLE_CITY"] = city


app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")
app.command("ingest")(_ingest.ingest)
app.command("rejected")(_ingest.rejected)
app.command("demo")(_ingest.demo)
app.add_typer(detect_app, name="detect")
app.add_typer(whistle_app, name="whistle")
app.add_typer(governance_app, name="governance")
app.add_typer(project_app, name="project")
app.add_typer(report_app, name="report")
app.add_typer(users_app, name="users")
app.add_typer(organisations_app, name="organisations")
app.add_typer(keys_app, name="api-keys")
app.add_typer(clock_app, name="clock")
app.command("api")(api)
app.command("worker")(worker)
app.command("serve")(serve)
app.command("replay")(replay)


def main() -> None:
    """Run the command line, turning errors into one line and an exit code."""
    logging.basicConfig(level=os.environ.get("WHISTLE_LOG", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except WhistleError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("WHISTLE_DEBUG"):
            raise
        err.print(f"[red]unexpected error:[/red] {type(exc).__name__}: {escape(str(exc))} "
                  "(set WHISTLE_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(2)
