"""Score the stored border cases against the synthetic demo's truth (see :mod:`geo.demo.score`)."""

from __future__ import annotations

import sqlalchemy as sa

from geo.demo.score import BorderScore, score_border_cases
from geo.detect.borders_db import border_cases
from geo.settings import load_settings
from geo.store.engine import Bind, transaction


def score_borders(bind: Bind, truth: dict, match_m: float = 200.0) -> BorderScore:
    """Compare the stored border cases with the truth of a synthetic demo.

    Parameters
    ----------
    bind : Engine or Connection
        The database holding the demo and its detected cases.
    truth : dict
        The demo's ``truth.json``.
    match_m : float
        How near a planted cluster's centre a case must lie to match it, in metres.

    Returns
    -------
    BorderScore
    """
    clusters = border_cases(bind, kind="cluster")
    with transaction(bind) as conn:
        pinged = set(conn.execute(sa.text(
            "SELECT c.source_id FROM border_case b JOIN border_case_complaint l ON l.case_id = b.id "
            "JOIN complaint c ON c.id = l.complaint_id WHERE b.kind = 'pingpong'")).scalars())
        kinds = dict(conn.execute(sa.text("SELECT kind, count(*) FROM border_case GROUP BY kind")).all())
    return score_border_cases(clusters, pinged, kinds, truth, metric_crs=load_settings().metric_crs,
                              match_m=match_m)
