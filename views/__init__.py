"""The app's pages: one callable each, routed by st.navigation in app.py. No analysis here."""
