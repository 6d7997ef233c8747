"""`aaprof review` in a real terminal (tmux): keys in, the screen read back with capture-pane,
then the saved profile compiles and `aaprof generate --decisions` replays it identically."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aaprof.profiles.compile import compile_policy

REPO = Path(__file__).resolve().parents[2]
PATIENCE_S = 120.0  # how long to wait for a screen before failing (a busy machine is slow)


class Terminal:
    """One tmux server of our own (its own socket), one 80×24 window running a command."""

    def __init__(self, socket: Path, command: list[str]) -> None:
        exe = shutil.which("tmux")
        if exe is None:
            pytest.fail("tmux is missing: apt-get install tmux (scripts/apt-test.txt lists it)")
        self.base = [exe, "-S", str(socket)]
        self.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "review", "-c", str(REPO),
                  "-e", "TERM=xterm-256color", *command)  # fmt: skip
        self.tmux("set-option", "-t", "review", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "review")

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "review", *keys)

    def wait(self, what: str, test: Callable[[str], bool]) -> str:
        """Poll the screen until `test` holds (no fixed sleeps); fail, showing it, if never."""
        deadline = time.monotonic() + PATIENCE_S
        while True:
            screen = self.screen()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"the screen never showed {what}:\n{screen}")
            time.sleep(0.05)

    def shows(self, text: str) -> str:
        return self.wait(repr(text), lambda screen: text in screen)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, check=False)


def marked(screen: str) -> str:
    """The current rule, as the details pane names it (`rule: …`)."""
    line = next((x for x in screen.splitlines() if "│ rule: " in x), "")
    return line.partition("│ rule: ")[2].strip()


def test_review_in_tmux_then_generate_replays_it(tmp_path: Path) -> None:
    out, replay = tmp_path / "reviewed", tmp_path / "replayed"
    decisions = tmp_path / "decisions.yaml"
    aaprof = [sys.executable, "-m", "aaprof"]
    review = [
        *aaprof,
        "review",
        "sample-logs/",
        "--profiles",
        str(out),
        "--decisions",
        str(decisions),
    ]
    term = Terminal(tmp_path / "tmux.sock", review)
    try:
        term.shows("44 undecided")
        term.send("BTab")  # to the tree
        term.send("Down")  # namespace shop
        term.shows("namespace shop: 11 rules")
        term.send("Tab")  # back to the rules
        term.wait("the current rule: setgid", lambda s: "capability setgid" in marked(s))
        term.send("a")
        term.wait("the current rule: the next rule", lambda s: "summer sale" in marked(s))
        term.shows("1 unsaved")
        term.send("a")
        term.wait("the current rule: default.conf", lambda s: "conf.d/default.conf" in marked(s))
        term.send("g")
        term.shows("glob: /etc/nginx/conf.d/* r,")
        term.send("g")
        term.shows("glob: /etc/nginx/** r,")
        term.wait("the widened rule", lambda s: marked(s) == "/etc/nginx/** r,")
        term.send("u")
        term.shows("undone")
        term.wait("the first glob back", lambda s: marked(s) == "/etc/nginx/conf.d/* r,")
        term.send("F")
        screen = term.shows("replay with aaprof generate --decisions")
    finally:
        term.close()
    assert "Traceback" not in screen
    profile = out / "profiles" / "aaprof.shop.web.nginx"
    text = profile.read_text()
    assert "/etc/nginx/conf.d/* r," in text and "/etc/nginx/** r," not in text
    compile_policy(text, name=str(profile))  # raises with apparmor_parser's message

    done = subprocess.run(
        [
            *aaprof,
            "generate",
            "sample-logs/",
            "--out",
            str(replay),
            "--decisions",
            str(decisions),
            "--no-k8s",
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reviewed = {p.name: p.read_text() for p in (out / "profiles").iterdir()}
    replayed = {p.name: p.read_text() for p in (replay / "profiles").iterdir()}
    assert replayed == reviewed


def test_review_keeps_its_decisions_beside_the_profiles(tmp_path: Path) -> None:
    """Without --decisions: a rule ignored with `i` stays ignored — the decisions file in DIR
    is found again by `generate --check` (which passes) and by the next review."""
    out = tmp_path / "reviewed"
    aaprof = [sys.executable, "-m", "aaprof"]
    review = [*aaprof, "review", "sample-logs/node-a", "--profiles", str(out)]
    term = Terminal(tmp_path / "tmux.sock", review)
    try:
        term.shows("undecided")
        ignored = term.wait("a current rule", lambda s: bool(marked(s)))
        rule = marked(ignored)
        term.send("i")
        term.shows("1 unsaved")
        term.send("F")
        screen = term.shows("find them here")
    finally:
        term.close()
    assert "Traceback" not in screen
    decisions = out / "decisions.yaml"
    assert "skip" in decisions.read_text()
    assert rule not in (out / "profiles" / "aaprof.shop.web.nginx").read_text()

    check = [*aaprof, "generate", "--check", "sample-logs/node-a", "--out", str(out)]
    done = subprocess.run(check, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"decisions replayed from {decisions}" in done.stderr

    term = Terminal(tmp_path / "tmux2.sock", review)
    try:
        screen = term.shows("0 undecided")
    finally:
        term.close()
    assert "ignore" in screen  # the state column's word for a `skip` decision
