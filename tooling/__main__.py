"""``python -m tooling`` is the ``ampere`` command."""

from tooling.cli import main

main()
