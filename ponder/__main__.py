"""``python -m ponder`` runs the command line."""

from ponder.cli import main

main()
