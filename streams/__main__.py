"""``python -m streams`` is the ``ampere`` command."""

from tooling.cli import main

main()
