"""folium layers, one function per layer: frames in, a folium layer out. No Streamlit here."""
