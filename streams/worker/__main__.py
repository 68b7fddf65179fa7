"""``python -m streams.worker``: the worker alone, as the container image runs it."""

from streams.worker.main import main

main()
