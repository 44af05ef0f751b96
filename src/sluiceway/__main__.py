"""`python -m sluiceway` is the `sluiceway` command."""

from sluiceway.cli.main import main

main()
