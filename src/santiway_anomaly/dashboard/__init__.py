"""The Streamlit dashboard: `app.py` is the entry, one module per page in `views/` (not `pages/`,
which Streamlit would also list as pages of its own), and `client.py` the only way it reaches data
(the REST API and the notification WebSocket, never the store)."""
