"""``python -m stepline`` runs the command line."""

from stepline.cli.main import main

main()
