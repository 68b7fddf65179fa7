# Ampere Stream images, one build target each (docker build --target NAME .):
#   worker (the default, last stage)  python -m streams.worker: the agents (window -> summarize -> encode -> index -> publish)
#   gateway                           python -m streams.gateway: HTTP / WebSocket ingest for broadcasters
#   dashboard                         the live dashboard: the only image that ships tooling/
# The user is uid 10001 (the Helm chart runs it as such). AMPERE_EXTRAS picks the pip extras: gpu (TensorRT, vLLM) for the worker, empty for gateway and dashboard.
FROM python:3.11-slim AS runtime

ARG AMPERE_EXTRAS=gpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AMPERE_HOME=/var/lib/ampere

WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY encoders ./encoders
COPY engines ./engines
RUN if [ -n "$AMPERE_EXTRAS" ]; then pip install --no-cache-dir ".[${AMPERE_EXTRAS}]"; \
    else pip install --no-cache-dir .; fi \
 && useradd --system --uid 10001 --create-home --home-dir /home/ampere ampere \
 && mkdir -p /var/lib/ampere && chown ampere /var/lib/ampere
USER 10001
VOLUME ["/var/lib/ampere"]

FROM runtime AS gateway
# it refuses to listen beyond loopback unless AMPERE_INGEST_API_KEY is set
ENV AMPERE_INGEST_HOST=0.0.0.0
EXPOSE 18400
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 CMD ["python", "-m", "streams.gateway", "live"]
ENTRYPOINT ["python", "-m", "streams.gateway"]

FROM runtime AS dashboard
USER root
COPY tooling ./tooling
RUN pip install --no-cache-dir --no-deps .
USER 10001
ENV AMPERE_DASHBOARD_HOST=0.0.0.0
EXPOSE 8765
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AMPERE_DASHBOARD_PORT', '8765'), timeout=5)"]
ENTRYPOINT ["python", "-m", "tooling", "dashboard"]

# last, so a plain `docker build .` gives the worker; tooling/ (CLI, demo, benchmarks, launchers) stays out
FROM runtime AS worker
EXPOSE 9464
# /livez of the worker's metrics port (AMPERE_METRICS_PORT); compose waits on /readyz instead
HEALTHCHECK --interval=15s --timeout=10s --start-period=180s --retries=3 CMD ["python", "-m", "streams.ops.probe", "live"]
ENTRYPOINT ["python", "-m", "streams.worker"]
