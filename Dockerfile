# One image for every Tessera process: `serve` (sites, API, admin, git), `worker` (builds, publishes,
# mail, housekeeping) or any other command (`tenant list`, `caddyfile`, ...), all on the /data volume.
#   docker build -t tessera .
#   docker run -d -v tessera-data:/data -p 8000:8000 -e TESSERA_ENV=production -e TESSERA_SECRET_KEY=... tessera serve
# See docs/deploying.md ("Container image and compose") and compose.yaml.
FROM python:3.11-slim-bookworm

# git: every tenant's content is a git repository, cloned and pushed through `git http-backend`.
# tini: PID 1 that forwards SIGTERM (a worker then finishes its job) and reaps git's children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tini \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# The runtime lock only (no test stack), checked against its hashes. A layer of its own, so a change
# to the code does not reinstall the dependencies.
COPY requirements.lock /app/requirements.lock
RUN python -m venv /opt/venv \
    && pip install --require-hashes --no-deps -r /app/requirements.lock

# The code, installed in place (as `make demo` does): the starter sites and themes are read beside
# it. Owned by root, so the running processes cannot change it.
COPY . /app
RUN pip install --no-deps --no-build-isolation -e /app \
    && python -m compileall -q /app/tessera /app/content /app/builder /app/publish /app/commerce_api

# Never root: the processes own the data volume and nothing else.
RUN useradd --system --uid 10001 --user-group --create-home --shell /usr/sbin/nologin tessera \
    && mkdir /data \
    && chown tessera:tessera /data

ENV TESSERA_DATA_DIR=/data \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=8000
VOLUME ["/data"]
WORKDIR /data
USER tessera:tessera
EXPOSE 8000

# The serving process's own check (/healthz: up, and platform.db answers). A `worker` container
# serves no HTTP: run it with the check disabled (compose.yaml does; `docker run --no-healthcheck`).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TESSERA_PORT', '8000'), timeout=4)"

ENTRYPOINT ["/usr/bin/tini", "--", "tessera"]
CMD ["serve"]
