"""Jurisdiction polygons shipped with the platform, and the code that builds and loads them."""
