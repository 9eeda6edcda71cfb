"""The specification's layout: `python -m uvicorn backend.main:app --port 8001`."""
