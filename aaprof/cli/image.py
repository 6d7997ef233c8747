"""`--image`, the same option on every command that writes a DaemonSet (aaprof.k8s.image)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from aaprof.errors import AaprofError
from aaprof.k8s.image import DEFAULT_IMAGE, check_image

F = TypeVar("F", bound=Callable[..., object])


def _checked(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_image(value)
    except AaprofError as exc:
        raise click.BadParameter(str(exc)) from None


def image_option(what: str) -> Callable[[F], F]:
    """`--image IMAGE` (default DEFAULT_IMAGE), checked before anything is read or written;
    `what` ends the help text: which DaemonSet runs it."""
    return click.option(
        "--image",
        default=DEFAULT_IMAGE,
        show_default=True,
        callback=_checked,
        help=f"The aaprof image (built by `./dev.sh image`) {what}.",
    )
