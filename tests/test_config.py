"""The app server's own settings keep the promises: no error details, bounded uploads, short-lived closed tabs."""

from __future__ import annotations

import tomllib

from geo.ingest.limits import MB
from geo.settings import load_settings
from tests.helpers import ROOT


def test_the_streamlit_config_keeps_the_security_promises():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] * MB == load_settings({}).upload_limits.max_bytes
    assert config["server"]["disconnectedSessionTTL"] <= 30
    assert config["browser"]["gatherUsageStats"] is False
