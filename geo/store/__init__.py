"""Stage 5, store: the embedded PostGIS cluster, engines, tables (models), migrations, COPY and tallies.

Domain decisions live in the stages; this package only keeps and counts.
"""
