"""The synthetic demo city with its planted truth (``synth``), and scoring against it (``score``)."""
