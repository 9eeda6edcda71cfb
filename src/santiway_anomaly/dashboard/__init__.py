"""The Streamlit dashboard: `app.py` is the entry, one module per page in `pages/`, and `client.py`
the only way it reaches data (the REST API and the notification WebSocket, never the store)."""
