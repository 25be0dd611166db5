"""Whistle's engine, one package per stage: ingest → locate → detect → act → store → show.

``cli`` is the command line over them and ``demo`` the synthetic city. Shared by all: ``settings``,
``errors``, ``rules`` (the one rules-file reader). Imports neither streamlit nor folium; pure
modules import neither SQLAlchemy nor ``geo.store`` (only ``*_db`` modules, ``store``, ``show``
and ``cli`` reach the database).
"""

__version__ = "0.1.0"
