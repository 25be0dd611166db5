"""Stage 6, show: what the app's pages read, always for a signed-in user (``dashboard_db``).

The app draws and lays out (``layers/``, ``views/``); this package only answers its questions.
"""
