"""Storage: the embedded PostGIS cluster, engines, models, migrations and queries."""
