"""The REST service (FastAPI): `create_app(settings)` in `main`, one router per resource in `routes`."""
