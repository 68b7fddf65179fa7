"""The live dashboard: a small web app fed by the output topics (tooling; the worker never imports it)."""
