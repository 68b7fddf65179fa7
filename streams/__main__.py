"""``python -m streams`` is the ``ampere`` command."""

from streams.cli import main

main()
