"""A report printed: the A4 page of its HTML (maps and tables), made by headless Chromium.

Chromium is Debian's (``apt-get install chromium fonts-noto-cjk``: the fonts print the Chinese);
it runs with no network and a profile of its own that is removed afterwards, and prints the page
the way a person's browser would (``--print-to-pdf``), so the PDF is the page a supervisor sees.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from geo.act.reports import Report, to_html
from geo.errors import ValidationError
from geo.settings import load_settings

TIMEOUT_S = 120
"""The longest a print may take (a monthly analysis prints in a few seconds)."""


def report_pdf(report: Report) -> bytes:
    """The report as an A4 PDF.

    Raises
    ------
    ValidationError
        When Chromium is not installed, or fails or times out (its last words are logged in the
        message, not a traceback).
    """
    return html_pdf(to_html(report, print_layout=True))


def html_pdf(page: str) -> bytes:
    """Print an HTML page (self-contained: no script, no outside file) to PDF with Chromium."""
    browser = load_settings().chromium
    if browser is None:
        raise ValidationError("printing to PDF needs Debian's chromium (apt-get install chromium fonts-noto-cjk), "
                              "or WHISTLE_CHROMIUM naming a Chromium")
    with tempfile.TemporaryDirectory(prefix="whistle-pdf-") as folder:
        source, out = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-extensions", "--disable-background-networking", "--no-pdf-header-footer",
                   f"--user-data-dir={Path(folder) / 'profile'}",
                   "--host-resolver-rules=MAP * ~NOTFOUND", f"--print-to-pdf={out}", source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise ValidationError(f"Chromium did not print the report within {TIMEOUT_S} s") from None
        if not out.exists() or out.stat().st_size == 0:
            last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise ValidationError(f"Chromium could not print the report (exit {done.returncode}): {last[0][:200]}")
        return out.read_bytes()


def chromium_path(named: str | None) -> str | None:
    """The Chromium to print with: ``named`` (WHISTLE_CHROMIUM) or Debian's, if installed."""
    for candidate in ([named] if named else ["chromium", "chromium-browser", "google-chrome"]):
        found = shutil.which(candidate)
        if found:
            return found
    return None
