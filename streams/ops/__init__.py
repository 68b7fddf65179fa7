"""Operating the worker: metrics, counters, health and readiness, logs, the container probe."""
