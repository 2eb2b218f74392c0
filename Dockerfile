# syntax=docker/dockerfile:1
# simplismart-scaler: the daemon in a small, locked-down image.
#
#   docker build -t simplismart-scaler:0.1.0 .
#   docker run --read-only -e SCALER_API_TOKEN_FILE=/run/secrets/token ... simplismart-scaler:0.1.0
#
# Both stages use the same base image, so the virtual environment built in the first
# stage runs unchanged in the second.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: install the project and its dependencies into /opt/scaler -------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scaler ./scaler
COPY docker/install-venv.sh /usr/local/bin/install-venv
RUN ["sh", "/usr/local/bin/install-venv", "/opt/scaler", "/src"]

# --- final: the virtual environment, a non-root user, nothing else ----------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="simplismart-scaler" \
      org.opencontainers.image.description="Scheduled autoscaling and cost saving for Simplismart deployments" \
      org.opencontainers.image.source="https://github.com/simplismart/simplismart-scaler" \
      org.opencontainers.image.url="https://github.com/simplismart/simplismart-scaler" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

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
