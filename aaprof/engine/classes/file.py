"""File accesses: the mask's letters (`c`/`d` as `w`), `owner`, exec modes and links."""

from __future__ import annotations

from aaprof.engine.classes.mask import mask_text, qualifiers
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.render import aare_escape

_LETTERS = frozenset("rwalkm")
_AS_WRITE = frozenset("cd")  # create and delete are granted by `w`
NO_NEW_PRIVS = "no new privs"
DEFAULT_EXEC = "ix"
# An inherited exec also needs `m` (the loader maps the program) and `r` (an interpreter
# reads a script): `mrix`, as aa-logprof writes it.
EXEC_PERMS = frozenset("mr")
ROOT_UID = 0
# Letters by which a task makes or changes a file: a root-owned file it writes is its own (a
# log, a temp file), one it only reads, maps or runs is the image's (a binary, a library)
_WRITES = frozenset("wal")


def least_perms(letters: frozenset[str]) -> frozenset[str]:
    """The letters without `a` when `w` is there: `w` grants appending, and apparmor_parser
    refuses a rule that names both ("Conflict 'a' and 'w' perms are mutually exclusive")."""
    return letters - {"a"} if "w" in letters else letters


def file_mask(event: Event) -> tuple[frozenset[str], bool | None]:
    """The letters a rule must grant and, for the old `owner::other` form, whether it is owner.

    `c::` is the owner's part, `::r` the others' part; the second value is None for today's
    single mask (then `owner` comes from fsuid and ouid).
    """
    text = mask_text(event)
    if not text:
        return frozenset(), None
    owner: bool | None = None
    if "::" in text:
        mine, other = text.split("::", 1)
        owner = bool(mine) and not other
        text = mine + other
    letters = {"w" if ch in _AS_WRITE else ch for ch in text}
    keep = _LETTERS | ({"x"} if event.operation == "exec" else set())
    return least_perms(frozenset(letters & keep)), owner


def is_owner(event: Event, old_form: bool | None) -> bool:
    """`owner` when the task's fsuid equals the object's owner (or the old mask said so)."""
    if old_form is not None:
        return old_form
    return event.fsuid is not None and event.fsuid == event.ouid


def learns_owner(event: Event, letters: frozenset[str], old_form: bool | None) -> bool:
    """Whether the learnt rule gets `owner`: the task owns the object (`is_owner`), and the
    object is not one of the image's root-owned files that it only reads, maps or runs.

    `owner` on `/bin/busybox mrix` learnt from a pod running as root denies the same pod run
    as another user its own executable; owner belongs on the files the workload owns.
    """
    if not is_owner(event, old_form):
        return False
    return event.ouid != ROOT_UID or bool(letters & _WRITES)


def file_rule(event: Event) -> m.FileRule | m.LinkRule | None:
    """The least file rule for `event`; None when it names no object or grants nothing.

    Exec gets `mrix` (under `no new privs` only an inherit works, and it is the default);
    a pure link request with a known target gets `link NAME -> TARGET`; `x` outside an exec
    operation (the kernel's link subset report) is not an exec and is dropped.
    """
    if not event.name:
        return None
    letters, old_form = file_mask(event)
    if not letters:
        return None
    q = qualifiers(event, owner=learns_owner(event, letters, old_form))
    path = aare_escape(event.name)
    if letters == {"l"} and event.target:
        return m.LinkRule(q, path, aare_escape(event.target))
    if "x" in letters:
        perms = (letters - {"x"}) | EXEC_PERMS
        return m.FileRule(q, path, perms, DEFAULT_EXEC)
    return m.FileRule(q, path, letters)
