# syntax=docker/dockerfile:1
# SantiWay anomaly detection: one image for the service (backend, port 8001) and the dashboard
# (frontend, port 8501). Multi-stage: the build stage compiles nothing of its own but keeps pip,
# caches and sources out of the runtime image; the runtime stage is the venv plus the app.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# CPU-only PyTorch: PyPI's Linux torch wheel pulls several GB of CUDA libraries; the CPU index does not.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# constraints.txt (scripts/lock.py) pins every dependency: the image installs what the tests ran on.
COPY pyproject.toml README.md constraints.txt ./
# torch first, pinned as in pyproject.toml, so that installing the package finds it satisfied.
RUN pip install --index-url "${TORCH_INDEX_URL}" -c constraints.txt torch==2.13.0
COPY src ./src
RUN pip install -c constraints.txt .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="santiway-anomaly" \
      org.opencontainers.image.description="Anomaly detection over WiFi/BLE device sightings (API + dashboard)"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    MODEL_PATH=/data/models/tcn_model.pt \
    API_HOST=0.0.0.0 \
    API_PORT=8001 \
    DASHBOARD_HOST=0.0.0.0 \
    DASHBOARD_PORT=8501
# A fixed, unprivileged user: the service never needs root.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --create-home app \
    && mkdir -p /data/models \
    && chown -R app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The specification's entry points: `python ml/train_model.py`, `uvicorn backend.main:app`.
COPY --chown=app:app ml ./ml
COPY --chown=app:app backend ./backend
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8001 8501
# The backend by default; the frontend service runs `santiway-anomaly dashboard` (docker-compose.yml).
CMD ["santiway-anomaly", "serve"]
