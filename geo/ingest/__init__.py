"""Stage 1, ingest: read hotline exports, check every row, and load it or reject it with a reason.

Pure: ``readers`` (CSV, Parquet, JSON Lines in batches), ``mapping`` (another system's columns),
``validate`` (checks, coordinates, locate), ``timeparse``, ``privacy`` (phones).
Database: ``run_db`` (``ingest_file``, the one entry point), ``load_db`` (COPY and upsert),
``rejected_db`` (the quarantine).
"""
