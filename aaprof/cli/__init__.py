"""The click command-line interface: thin adapters over the core."""
