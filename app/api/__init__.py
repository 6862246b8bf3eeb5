"""The web layer: thin adapters from HTTP and WebSocket to `app.nn`."""
