"""What speaking Chinese costs a page: the catalogue's compile, a lookup, and a page's strings.

Run: ``.venv/bin/python bench/bench_i18n.py [--lookups 1000000]``.

- the zh_CN catalogue compiled from its ``.po`` by Babel (once per process and per version of
  the file), cold;
- ``_()`` of a message in Chinese, against the plain baseline of a dict lookup of the same
  message, in the same run;
- the words of a page's table: a column of 2,000 call states turned into their words
  (``geo.show.words.words``) against the same column mapped by a dict.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo import i18n
from geo.i18n import _
from geo.show.words import CALL_STATES, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=1_000_000)
    args = parser.parse_args()

    status = i18n.catalogue_path("zh_CN").stat()
    started = time.perf_counter()
    i18n._compiled(i18n.catalogue_path("zh_CN"), status.st_mtime_ns, status.st_size)
    compiled = time.perf_counter() - started
    print(f"catalogue compiled from its .po: {1000 * compiled:.1f} ms (once per process)")

    i18n.use("zh_CN")
    message = "Queue, most urgent first ({count:,} shown)"
    started = time.perf_counter()
    for _i in range(args.lookups):
        _(message)
    ours = (time.perf_counter() - started) / args.lookups
    plain = {message: _(message)}
    started = time.perf_counter()
    for _i in range(args.lookups):
        plain.get(message)
    baseline = (time.perf_counter() - started) / args.lookups
    print(f"_() of a message: {1e9 * ours:.0f} ns; a dict lookup: {1e9 * baseline:.0f} ns "
          f"(x{ours / baseline:.1f}); a page of 300 strings: {1e3 * 300 * ours:.3f} ms")

    states = ["raised", "resolved", "closed", "raised"] * 500
    started = time.perf_counter()
    for _i in range(100):
        words(CALL_STATES, states)
    ours = (time.perf_counter() - started) / 100
    table = {code: _(text) for code, text in CALL_STATES.items()}
    started = time.perf_counter()
    for _i in range(100):
        [table.get(s, s) for s in states]
    baseline = (time.perf_counter() - started) / 100
    print(f"2,000 states in words: {1e3 * ours:.2f} ms; a dict map: {1e3 * baseline:.2f} ms (x{ours / baseline:.1f})")


if __name__ == "__main__":
    main()
