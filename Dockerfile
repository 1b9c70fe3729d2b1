# The migration runner image: your schema/ and migrations/ plus the runner.
# Build: make image (or docker build .). Run: docker run --rm -e DATABASE_URL=... IMAGE
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Dependencies first: editing a revision or the schema does not reinstall them.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && find /opt/venv -depth -name __pycache__ -type d -exec rm -rf {} + \
    && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv

# pt-online-schema-change (percona-toolkit, GPL-2), for MIGRATE_BLOCKING_DDL=online:
# the one script out of Debian's package, not the whole toolkit.
FROM ${PYTHON_IMAGE} AS online-schema-change
WORKDIR /tmp
RUN apt-get update -qq \
    && apt-get download percona-toolkit \
    && dpkg-deb -x percona-toolkit_*.deb /tmp/toolkit \
    && rm -rf /var/lib/apt/lists/*

FROM ${PYTHON_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=https://github.com/example/migrator
LABEL org.opencontainers.image.title="migrator" \
      org.opencontainers.image.description="Alembic migrations for MySQL and MariaDB, safe to run from every pod" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# Read-only root filesystem: nothing is written at run time (no bytecode, no .env).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MIGRATE_LOG_FORMAT=json
COPY --from=build /opt/venv /opt/venv
# The script needs Perl and its MySQL driver, nothing else of the toolkit's dependencies;
# Debian's stable release pins their versions.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       libdbd-mysql-perl \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
COPY --from=online-schema-change /tmp/toolkit/usr/bin/pt-online-schema-change /usr/bin/
WORKDIR /app
COPY entrypoint.py ./
COPY migrator/ migrator/
COPY schema/ schema/
COPY migrations/ migrations/
# Bytecode compiled at build time, checked by hash, so start-up never needs to write it.
RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash /app
USER 10001:10001
ENTRYPOINT ["python", "/app/entrypoint.py"]
CMD ["upgrade"]
