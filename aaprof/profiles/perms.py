"""File permission strings as AppArmor reads them: access letters and one exec mode."""

from __future__ import annotations

import functools
import re

_PERM_TOKENS = re.compile(r"(?:[pPcC][iIuU]?x|[iuU]x|x|[rwalkmRWLMD])+")
_EXEC_TOKEN = re.compile(r"[pPcC][iIuU]?x|[iuU]x|x")


def _exec_mode(token: str) -> str:
    if len(token) < 3:
        return token
    first, second = token[0], token[1]
    if second in "iI":
        return first + "ix"
    return first + ("ux" if first.islower() else "Ux")


@functools.lru_cache(maxsize=4096)  # a large profile repeats a few strings: one frozenset each
def file_perms(letters: str) -> tuple[frozenset[str], str | None]:
    """A permission string → (access letters, exec mode), as AppArmor reads it.

    Repeated letters count once (`rrr`, `pxpx`, `iiiixxxx`), an upper-case `X` is `x`, and an
    exec modifier must come right before its `x` (`pix`, `Px`, `Cx`; `prx` is an error).

    Raises:
        ValueError: a malformed string or two different exec modes in one rule.
    """
    collapsed = re.sub(r"(.)\1+", r"\1", letters.replace("X", "x"))
    if collapsed and not _PERM_TOKENS.fullmatch(collapsed):
        raise ValueError(
            f"malformed permissions {letters!r}: an exec modifier (i, u, p, c) must come right"
            " before x, as in ix, px, pix, Cx"
        )
    modes = {_exec_mode(t) for t in _EXEC_TOKEN.findall(collapsed)}
    if len(modes) > 1:
        raise ValueError(f"conflicting exec modes in {letters!r}: {', '.join(sorted(modes))}")
    perms = frozenset(_EXEC_TOKEN.sub("", collapsed))
    return perms, (modes.pop() if modes else None)


def front_mode(mode: str, safety: str | None) -> str:
    """Leading permissions name the environment by `safe`/`unsafe`, not by the letter's case:
    `px /x` and `Px /x` are both `/x Px`; `unsafe Px /x` is `/x px`."""
    if mode in ("x", "ix"):
        return mode
    if safety == "unsafe":
        return mode[0].lower() + mode[1:].replace("U", "u")
    return mode[0].upper() + ("Ux" if mode[1:] == "ux" and len(mode) == 3 else mode[1:])
