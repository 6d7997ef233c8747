"""`aaprof node load`: load a directory of profiles, own only what was loaded, prune safely.

One pass (`sync`) validates every file first (aaprof's own check, `profiles.check.check_text`,
then apparmor_parser compiles each: a bad one is reported by file, line and column and the
others go on), then loads each compiled file with one write
to securityfs `.replace`, then reads securityfs back to verify each profile is loaded in the
intended mode. A profile loaded by someone else (not in the state) is never replaced. With
`prune`, a profile the loader owns whose file is gone is unloaded only when no process is
confined by it (`/proc/*/attr/current`); otherwise it stays, and the status says who uses it.

`unload` (`aaprof node unload`, the uninstall) is the same pass with no file wanted: every
profile the state names is unloaded as a pruned one is (only when unused), and nothing else.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.node.host import Host, profiles_of_label
from aaprof.node.state import MARKER, Owned, State, read_state, write_state
from aaprof.profiles.check import check_text, reserved
from aaprof.profiles.compile import DEFAULT_BASE, compile_policy, profile_names
from aaprof.profiles.includes import DEFAULT_MAX_BYTES, Includes

MODES = ("enforce", "complain", "as-written")
# what one profile's pass ended in; the first three are failures: readiness waits for none
FAILED, REFUSED, UNVERIFIED = "failed", "refused", "unverified"
PROBLEMS = (FAILED, REFUSED, UNVERIFIED)
LOADED, UNCHANGED, KEPT, UNLOADED, STALE, GONE = (
    "loaded",
    "unchanged",
    "kept",
    "unloaded",
    "stale",
    "gone",
)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What to load and how: the profile directories, the state directory, the parser's base."""

    dirs: tuple[Path, ...]
    state_dir: Path
    base: Path = DEFAULT_BASE
    include_dirs: tuple[Path, ...] = ()
    mode: str = "enforce"
    prune: bool = False
    unload: bool = False  # the uninstall: unload every owned profile, load none
    max_bytes: int = DEFAULT_MAX_BYTES

    def includes(self) -> Includes:
        """How the files and their includes are read: `<x>` from the include dirs then `base`;
        only regular files below the DIRs, `base` or the include dirs, of at most `max_bytes`."""
        return Includes((*self.include_dirs, self.base), self.dirs, self.max_bytes)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One profile's (or one failed file's) result: `action` is one of the constants above."""

    name: str
    file: str
    action: str
    message: str = ""

    @property
    def problem(self) -> bool:
        return self.action in PROBLEMS

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "file": self.file,
            "action": self.action,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One pass: every outcome, the kernel's modes of the owned profiles, when it ended."""

    outcomes: tuple[Outcome, ...]
    finished: float
    unloading: bool = False  # an uninstall's pass: ok only once every owned profile is gone

    @property
    def ok(self) -> bool:
        left = self.unloading and any(o.action == KEPT for o in self.outcomes)
        return not left and not any(o.problem for o in self.outcomes)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "finished": self.finished,
            "profiles": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True, slots=True)
class _Compiled:
    file: str
    sha256: str
    names: tuple[str, ...]
    policy: bytes


def sync(host: Host, options: LoadOptions) -> SyncResult:
    """One pass of the loader over the directories (see the module's description).

    Raises:
        AaprofError: the state cannot be read or written, or securityfs cannot be read: nothing
            is loaded or unloaded then.
    """
    if options.mode not in MODES:
        raise AaprofError(f"mode {options.mode!r}: use one of {', '.join(MODES)}")
    state = read_state(options.state_dir)
    loaded = host.loaded()
    outcomes: list[Outcome] = []
    compiled: list[_Compiled] = []
    failed_files: set[str] = set()
    for path in () if options.unload else profile_files(options.dirs):
        try:
            compiled.append(_compile(path, options))
        except AaprofError as exc:
            failed_files.add(str(path))
            outcomes.append(Outcome("", str(path), FAILED, str(exc)))
        except (MemoryError, RecursionError) as exc:  # one file's, never the whole pass's
            failed_files.add(str(path))
            msg = f"{path}: {type(exc).__name__} while checking it; not loaded"
            outcomes.append(Outcome("", str(path), FAILED, msg))
    owned = dict(state.owned)
    claimed: dict[str, str] = {}
    for item in compiled:
        outcomes.extend(_load_one(host, item, options, owned, loaded, claimed))
        loaded = host.loaded()
    # the profiles of a file that failed to compile stay as they are (a bad edit unloads nothing)
    keep = set(claimed) | {n for n, o in owned.items() if o.file in failed_files}
    for name in sorted(set(owned) - keep):
        if "//" in name and name.split("//", 1)[0] in owned:
            continue  # a child goes with its parent
        prune = options.prune or options.unload
        outcomes.extend(_retire(host, name, owned, loaded, prune, options.unload))
    write_state(options.state_dir, State(owned))
    return SyncResult(tuple(outcomes), time.time(), options.unload)


def profile_files(dirs: Sequence[Path]) -> list[Path]:
    """The profile files of the directories: every entry but directories (symlinks followed)
    and names starting with `.` (a ConfigMap volume's `..data` and its timestamped directory),
    sorted. A device, a FIFO or a symlink out of the directory is listed, so that reading it
    fails and is reported.

    Raises:
        AaprofError: a directory cannot be listed.
    """
    out: list[Path] = []
    for directory in dirs:
        try:
            entries = sorted(directory.iterdir())
        except OSError as exc:
            raise AaprofError(f"{directory}: {exc.strerror}") from None
        out.extend(p for p in entries if not p.name.startswith(".") and not p.is_dir())
    return out


def _compile(path: Path, options: LoadOptions) -> _Compiled:
    reader = options.includes()
    text = reader.read(path)
    # aaprof's own check first: every problem at file:line:col, whatever the node's parser
    # version; an include it does not read (a device, a file outside) never reaches the parser
    base, includes = options.base, options.include_dirs
    problems = check_text(text, filename=str(path), includes=reader, loading=True)
    if problems:
        raise AaprofError("; ".join(str(p) for p in problems))
    # the marker goes last, so apparmor_parser's line numbers are the file's own
    marked = f"{text}{'' if text.endswith(chr(10)) or not text else chr(10)}{MARKER}\n"
    names = profile_names(marked, base=base, name=str(path), include_dirs=includes)
    if not names:
        raise AaprofError(f"{path}: defines no profile")
    for name in names:
        reason = reserved(name)
        if reason:
            raise AaprofError(f"{path}: profile {name!r}: {reason}; not loaded")
    complain = options.mode == "complain"
    policy = compile_policy(
        marked, base=base, name=str(path), include_dirs=includes, complain=complain
    )
    sha = hashlib.sha256(marked.encode("utf-8", "surrogateescape")).hexdigest()
    return _Compiled(str(path), f"{sha}:{options.mode}", names, policy)


def _load_one(
    host: Host,
    item: _Compiled,
    options: LoadOptions,
    owned: dict[str, Owned],
    loaded: dict[str, str],
    claimed: dict[str, str],
) -> list[Outcome]:
    twice = [n for n in item.names if n in claimed]
    if twice:
        msg = f"also defined by {claimed[twice[0]]}; not loaded"
        return [Outcome(n, item.file, REFUSED, msg) for n in item.names]
    foreign = [n for n in item.names if n in loaded and n not in owned]
    if foreign:
        msg = "loaded on this node and not loaded by aaprof: not replaced (rename the profile)"
        refused = [Outcome(n, item.file, REFUSED, msg) for n in foreign]
        return refused + [
            Outcome(n, item.file, REFUSED, f"in the same file as {foreign[0]}: not loaded")
            for n in item.names
            if n not in foreign
        ]
    claimed.update(dict.fromkeys(item.names, item.file))
    same = all(
        n in owned and owned[n].sha256 == item.sha256 and _mode_ok(n, loaded, options.mode)
        for n in item.names
    )
    if same:
        for n in item.names:
            owned[n] = Owned(item.file, item.sha256, options.mode)
        return [Outcome(n, item.file, UNCHANGED, loaded[n]) for n in item.names]
    try:
        host.replace(item.policy)
    except AaprofError as exc:
        return [Outcome(n, item.file, FAILED, str(exc)) for n in item.names]
    for n in item.names:
        owned[n] = Owned(item.file, item.sha256, options.mode)
    now = host.loaded()
    out: list[Outcome] = []
    for n in item.names:
        if n not in now:
            out.append(Outcome(n, item.file, UNVERIFIED, "not in securityfs after loading"))
        elif not _mode_ok(n, now, options.mode):
            msg = f"loaded in {now[n]} mode, not {options.mode} (check the profile's flags)"
            out.append(Outcome(n, item.file, UNVERIFIED, msg))
        else:
            out.append(Outcome(n, item.file, LOADED, now[n]))
    return out


def _mode_ok(name: str, loaded: dict[str, str], mode: str) -> bool:
    if name not in loaded:
        return False
    # a child profile or hat has its own flags: only its presence is checked
    return mode == "as-written" or "//" in name or loaded[name] == mode


def _retire(
    host: Host,
    name: str,
    owned: dict[str, Owned],
    loaded: dict[str, str],
    prune: bool,
    unload: bool = False,
) -> list[Outcome]:
    file = owned[name].file
    family = [n for n in owned if n == name or n.startswith(f"{name}//")]
    why = "unloading what aaprof loaded" if unload else "no longer in the directory"
    if name not in loaded:
        for n in family:
            del owned[n]
        return [Outcome(name, file, GONE, f"{why}; not loaded any more")]
    if not prune:
        return [Outcome(name, file, STALE, "no longer in the directory; left loaded (no --prune)")]
    users = sorted(pid for pid, label in host.labels().items() if name in profiles_of_label(label))
    if users:
        shown = ", ".join(str(p) for p in users[:10]) + (" ..." if len(users) > 10 else "")
        msg = f"{why}; kept loaded: confines running process(es) {shown}"
        return [Outcome(name, file, KEPT, msg)]
    try:
        host.remove(name)
    except AaprofError as exc:
        return [Outcome(name, file, FAILED, f"cannot unload: {exc}")]
    if name in host.loaded():
        return [Outcome(name, file, FAILED, "still loaded after removing it")]
    for n in family:
        del owned[n]
    return [Outcome(name, file, UNLOADED, f"{why}; not in use")]
