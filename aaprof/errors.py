"""The one exception type the CLI turns into a one-line message and exit 1."""


class AaprofError(Exception):
    """A failure the user can act on: the message names the file or value at fault."""
