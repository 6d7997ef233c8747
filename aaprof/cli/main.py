"""The `aaprof` command group and the one error boundary."""

from __future__ import annotations

import importlib
import sys

import click

from aaprof import __version__
from aaprof.errors import AaprofError


class Failure(click.ClickException):
    """An AaprofError on its way out: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(f"aaprof: {self.format_message()}", err=True)


# The commands, each imported when it is used (or listed): `aaprof events` does not pay for
# importing the others (about 30 ms of a start-up of 90 ms).
_COMMANDS = {
    name: f"aaprof.cli.{name}"
    for name in (
        "alerts",
        "catalogue",
        "events",
        "generate",
        "node",
        "policy",
        "profile",
        "review",
        "watch",
    )
}


class _Group(click.Group):
    """The command group; the one place where AaprofError becomes a message and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(_COMMANDS[cmd_name])
            self.add_command(getattr(module, cmd_name))
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except AaprofError as exc:
            raise Failure(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aaprof")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """AppArmor profile authoring and violation monitoring for Kubernetes nodes."""
    ctx.obj = {"verbose": verbose}


def main() -> None:
    """Console entry point: exit 0 ok, 1 error, 2 usage, 130 interrupted."""
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except Exception as exc:
        if verbose:
            raise
        click.echo(f"aaprof: internal error: {exc!r} (run with -v for the traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
