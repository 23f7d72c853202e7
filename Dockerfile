# syntax=docker/dockerfile:1
#
# One image for every Bitewing tier; the command picks the tier:
#   bitewing serve --host 0.0.0.0 --port 5000      (default)
#   bitewing worker
#   bitewing dicom-listener --host 0.0.0.0 --port 11112
#   bitewing db upgrade                             (the Helm migrate Job)
#   bitewing sweep                                  (the Helm sweeper CronJob)
#
# Build: docker build -t bitewing:dev .

ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------------------------------------------------
# build: resolve nothing, install exactly what uv.lock says into /app/.venv
# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON=/usr/local/bin/python3.12 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

WORKDIR /src

# 1. Third-party dependencies only: this layer is rebuilt only when the lock or a pyproject changes.
COPY pyproject.toml uv.lock README.md ./
COPY platform/pyproject.toml platform/
COPY connectors/orthanc/pyproject.toml connectors/orthanc/
COPY connectors/dicomweb/pyproject.toml connectors/dicomweb/
COPY connectors/s3/pyproject.toml connectors/s3/
COPY portal/pyproject.toml portal/
COPY admin/pyproject.toml admin/
RUN uv sync --frozen --no-dev --no-install-workspace

# 2. The workspace members, installed as wheels (not editable) so the venv stands alone without /src.
#    The root `bitewing` meta-distribution brings every member except the test-only plugin under tests/
#    (which .dockerignore keeps out of the context): `--all-packages` would install it, and with it a
#    `memory://` store and a `memory` VNA type that must never exist in production.
COPY platform/src platform/src
COPY connectors/orthanc/src connectors/orthanc/src
COPY connectors/dicomweb/src connectors/dicomweb/src
COPY connectors/s3/src connectors/s3/src
COPY portal/src portal/src
COPY admin/src admin/src
RUN uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------------------
# runtime: the venv, the migrations, a non-root user; no uv, no build tools, no sources
# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="bitewing" \
      org.opencontainers.image.description="Bitewing dental imaging platform: web, worker, DICOM listener, migrations"

RUN groupadd --system --gid 10001 bitewing \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bitewing

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BITEWING_MIGRATIONS_DIR=/app/alembic \
    BITEWING_INSTANCE_PATH=/app/instance

WORKDIR /app

# Same base image, same interpreter path: the venv's python symlink stays valid.
COPY --from=build /app/.venv /app/.venv
COPY alembic.ini /app/alembic.ini
COPY alembic /app/alembic

# The instance folder is only written on the embedded default (generated secret key, SQLite, local objects);
# in Kubernetes the root filesystem is read-only and every setting comes from the environment.
RUN mkdir -p /app/instance && chown 10001:10001 /app/instance

# Numeric so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

EXPOSE 5000 11112

# No HEALTHCHECK: the same image runs the worker and the DICOM listener, which serve no /healthz.
# Kubernetes probes each tier in the Helm chart instead.
CMD ["bitewing", "serve", "--host", "0.0.0.0", "--port", "5000"]
