"""Run the CLI with ``python -m aaprof``."""

from aaprof.cli.main import main

main()
