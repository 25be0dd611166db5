"""Whistle's engine: ingest, locate, detect, act and store. Imports neither streamlit nor folium."""

__version__ = "0.1.0"
