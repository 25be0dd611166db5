"""The Open311 GeoReport v2 API (an ASGI app): the hotline's channels send complaints, the
departments and the callback centre send status updates, anyone reads services and requests."""
