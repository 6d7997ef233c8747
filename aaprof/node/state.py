"""What the loader owns and did: its state (the profiles it loaded) and its status files.

The state is the record of ownership: a profile is the loader's only if the state names it, so
a profile someone else loaded (the host's own, another tool's) is never replaced or unloaded.
Files are written whole and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError

STATE = "state.json"
STATUS = "status.json"
METRICS = "metrics.prom"
READY = "ready"
# The marker the loader puts at the top of every profile text it loads (a comment: the kernel
# never sees it); the copy kept in the state directory carries it, so a file there is known to
# be the loader's, and a profile file that already carries it names its owner to a reader.
MARKER = "# aaprof-node-load: managed by aaprof node load; edits here are overwritten"


@dataclass(frozen=True, slots=True)
class Owned:
    """One profile the loader loaded: from which file, its text's sha256, the mode it asked."""

    file: str
    sha256: str
    mode: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "sha256": self.sha256, "mode": self.mode}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Owned:
        return cls(str(data["file"]), str(data["sha256"]), str(data["mode"]))


@dataclass(frozen=True, slots=True)
class State:
    """The profiles the loader owns: name → Owned."""

    owned: Mapping[str, Owned] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"version": 1, "owned": {n: o.to_dict() for n, o in sorted(self.owned.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> State:
        owned = data.get("owned")
        if not isinstance(owned, dict):
            raise AaprofError("state: no `owned` mapping")
        return cls({str(n): Owned.from_dict(o) for n, o in owned.items()})


def read_state(directory: Path) -> State:
    """The state in `directory`; an empty one when there is none yet.

    Raises:
        AaprofError: the state file exists but cannot be read (never guessed at: a loader that
            lost its record would take the host's profiles for its own, or forget its own).
    """
    path = directory / STATE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise AaprofError(f"{path}: {exc.strerror}") from None
    try:
        return State.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, AaprofError) as exc:
        raise AaprofError(f"{path}: not a loader state: {exc}") from None


def write_file(path: Path, text: str) -> None:
    """Write a file whole: a temporary file beside it, renamed into place.

    Raises:
        AaprofError: it cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise AaprofError(f"cannot write {path}: {exc.strerror}") from None


def write_state(directory: Path, state: State) -> None:
    """Save the state (whole, renamed into place)."""
    write_file(directory / STATE, json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n")
