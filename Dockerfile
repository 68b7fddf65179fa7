# The Ampere Stream worker image: `python -m streams.worker` runs the agents
# (window -> summarize -> encode -> index -> publish). Build: docker build --build-arg AMPERE_EXTRAS=gpu .
FROM python:3.11-slim

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
 && useradd --system --create-home --home-dir /home/ampere ampere \
 && mkdir -p /var/lib/ampere && chown ampere /var/lib/ampere

USER ampere
VOLUME ["/var/lib/ampere"]
EXPOSE 9464
# /livez of the worker's metrics port (AMPERE_METRICS_PORT); compose waits on /readyz instead
HEALTHCHECK --interval=15s --timeout=10s --start-period=180s --retries=3 CMD ["python", "-m", "streams.probe", "live"]
# only the worker path ships: tooling/ (CLI, demo, benchmarks, simulator, local launchers) stays out
ENTRYPOINT ["python", "-m", "streams.worker"]
