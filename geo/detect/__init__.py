"""Stage 3, detect: hot spots (Getis-Ord Gi*, emerging trends) and border cases.

Pure: ``rules`` (the thresholds, from ``geo/data/detect.toml``), ``hotspots``, ``borders``.
Database: ``hotspots_db`` and ``borders_db`` (runs over the stored complaints, kept as runs),
``filters_db`` (the period and category checks they share).
"""
