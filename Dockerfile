# syntax=docker/dockerfile:1
# simplismart-scaler: the daemon in a small, locked-down image.
#
#   docker build --build-arg REVISION="$(git rev-parse HEAD)" -t simplismart-scaler:0.1.0 .
#   docker run --read-only -e SCALER_API_TOKEN_FILE=/run/secrets/token ... simplismart-scaler:0.1.0
#
# Both stages use the same base image, so the virtual environment built in the first
# stage runs unchanged in the second. The base is pinned by the digest of its
# multi-platform index beside its tag: the tag says what it is, the digest what exactly
# is built on. The digest is the one docker-library/repo-info (the official images'
# public metadata) recorded for python:3.12-slim-bookworm, Python 3.12.14, on
# 2026-08-25. To move to a newer base, take the current digest with
# `docker buildx imagetools inspect python:3.12-slim-bookworm` (or `crane digest`)
# and replace it here.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:0f5b26b9518d002b6173fd61daad821fa340635ebfec5bba471013f9ca114579

# --- build: install the locked dependencies and the project into /opt/scaler -------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md LICENSE ./
COPY scaler ./scaler
COPY docker/install-venv.sh /usr/local/bin/install-venv
RUN ["sh", "/usr/local/bin/install-venv", "/opt/scaler", "/src"]

# --- final: the virtual environment, a non-root user, nothing else ----------------
FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
# The commit the image is built from: pass --build-arg REVISION="$(git rev-parse HEAD)".
ARG REVISION=unknown
LABEL org.opencontainers.image.title="simplismart-scaler" \
      org.opencontainers.image.description="Scheduled autoscaling and cost saving for Simplismart deployments" \
      org.opencontainers.image.source="https://github.com/simplismart/simplismart-scaler" \
      org.opencontainers.image.url="https://github.com/simplismart/simplismart-scaler" \
      org.opencontainers.image.documentation="https://simplismart.github.io/simplismart-scaler/" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# A fixed UID/GID, so volumes and Kubernetes securityContexts can name it.
RUN groupadd --system --gid 10001 scaler \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /var/lib/scaler --no-create-home --shell /usr/sbin/nologin scaler \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/scaler \
    && install -d -o root -g root -m 0755 /etc/scaler/policies

COPY --from=build /opt/scaler /opt/scaler

# The state store is the only thing the scaler writes: the root filesystem can be
# mounted read-only. Policies are mounted at /etc/scaler/policies.
ENV PATH=/opt/scaler/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCALER_HTTP_HOST=0.0.0.0 \
    SCALER_HTTP_PORT=9464 \
    SCALER_POLICY_PATH=/etc/scaler/policies \
    SCALER_STATE_URL=sqlite:////var/lib/scaler/state.db
VOLUME ["/var/lib/scaler"]
WORKDIR /var/lib/scaler
USER 10001:10001
EXPOSE 9464

# The interpreter the image already has checks /healthz: no curl or wget needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SCALER_HTTP_PORT', '9464'), timeout=4)"]

ENTRYPOINT ["scaler"]
CMD ["run"]
