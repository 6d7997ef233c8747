"""Opening a review past unparsable profiles, and saving only what apparmor_parser compiles.

Part of the review's engine API: `aaprof.engine.review` re-exports these.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from aaprof.engine.assemble import profile_filename
from aaprof.engine.session import PROFILES, Saved, Session
from aaprof.errors import AaprofError


def unparsable(out: Path) -> tuple[tuple[Path, str], ...]:
    """The files of DIR/profiles that do not parse, each with the parser's message
    (file:line:col)."""
    from aaprof.profiles.compare import read_policy

    directory = out / PROFILES
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.startswith("."):
            continue
        try:
            read_policy(path)
        except AaprofError as exc:
            found.append((path, str(exc)))
    return tuple(found)


def left_out(path: Path, message: str) -> str:
    """The warning for a profile file `open_session` left out."""
    return f"{message} (left out of this review: saving will not write over {path.name})"


def open_session(
    read: Callable[[Path], Session], out: Path
) -> tuple[Session, tuple[tuple[Path, str], ...]]:
    """`read(out)`, going on when some of DIR's profiles do not parse: those files are left
    out of the session, and `save` refuses to write over them (pass them as `skipped`).

    Returns:
        The session (its `out` is `out`) and the files left out with the parser's message.
    """
    bad = unparsable(out)
    if not bad:
        return read(out), ()
    skipped = {p for p, _ in bad}
    with tempfile.TemporaryDirectory(prefix="aaprof-review-") as tmp:
        shadow = Path(tmp)
        (shadow / PROFILES).mkdir()
        for path in sorted((out / PROFILES).iterdir()):
            if path.is_file() and path not in skipped and not path.name.startswith("."):
                os.symlink(path.resolve(), shadow / PROFILES / path.name)
        session = read(shadow)
    existing = {
        name: (out / PROFILES / path.name, policy)
        for name, (path, policy) in session.existing.items()
    }
    session = dataclasses.replace(session, out=out, existing=existing)
    return session, bad


def check(session: Session, *, skipped: Iterable[Path] = ()) -> None:
    """Compile every profile `save` would write with apparmor_parser (nothing is written).

    Raises:
        AaprofError: apparmor_parser is missing or rejects a profile (its message, naming the
            file), or a profile would be written over a file left out as unparsable.
    """
    from aaprof.profiles.compile import compile_policy

    left_out = set(skipped)
    for name in sorted({p.split("//", 1)[0] for p in session.chosen()}):
        if name in session.existing:
            target = session.existing[name][0]
        else:
            target = session.out / PROFILES / profile_filename(name)
        if target in left_out:
            raise AaprofError(
                f"{target} does not parse: fix it (or ignore the rules of {name}) before saving"
            )
        preview = session.preview(name)
        compile_policy(preview.text, base=session.settings.base, name=str(preview.path))


def save(
    session: Session, *, decisions_file: Path | None = None, skipped: Iterable[Path] = ()
) -> Saved:
    """`check`, then `Session.save`: a profile apparmor_parser rejects is never written.

    Raises:
        AaprofError: as `check`, or a file that cannot be written.
    """
    check(session, skipped=skipped)
    return session.save(decisions_file=decisions_file)
