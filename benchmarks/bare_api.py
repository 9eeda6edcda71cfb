"""The baseline of benchmarks/api.py: a bare FastAPI app answering GET /anomalies with fixed bytes.

No middleware, no key, no store: FastAPI's routing and Starlette's response under the same uvicorn
settings as the product. The bytes are the product's own answer to the same URL, read at start-up from
the file named by BARE_API_BODY, so both servers send the same payload.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response

BODY = Path(os.environ["BARE_API_BODY"]).read_bytes()

app = FastAPI()


@app.get("/anomalies")
async def anomalies() -> Response:
    return Response(BODY, media_type="application/json")


@app.get("/health")
async def health() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
