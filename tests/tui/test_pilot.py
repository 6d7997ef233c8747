"""The review app driven key by key (`App.run_test`): the session's state and the saved files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static, Tree

from aaprof.engine import Saved, Session, load_decisions
from aaprof.engine import review as r
from aaprof.errors import AaprofError
from aaprof.tui.app import ReviewApp
from aaprof.tui.rules import RuleList
from aaprof.tui.screens import KEYS, ConfirmQuit, EditRule, ExecPrompt, HelpScreen

SIZE = (120, 40)
pytestmark = pytest.mark.asyncio


def app_for(session: Session, out: Path, **kwargs: object) -> ReviewApp:
    return ReviewApp(session, decisions_file=out / "decisions.yaml", **kwargs)  # type: ignore[arg-type]


def text_of(app: ReviewApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def go_to(app: ReviewApp, pilot: Pilot[Saved | None], needle: str) -> r.Row:
    """Filter the rules down to the one containing `needle` (the / key) and return it."""
    await pilot.press("slash")
    app.query_one("#filter", Input).value = needle  # as typed, in one change
    await pilot.press("enter")
    await pilot.pause()
    row = app.current()
    assert row is not None and needle in row.suggestion.key, [x.suggestion.key for x in app.shown]
    return row


async def test_allow_moves_on_and_save_writes_profiles_and_decisions(
    session: Session, out: Path, apparmor_parser: str
) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        first = app.current()
        assert first is not None and first.suggestion.rank == 2  # most severe first
        await pilot.press("a")
        assert app.session.decision_for(first.profile, first.suggestion) == r.allow(first)
        second = app.current()
        assert second is not None and second != first  # on to the next rule
        assert "allow" in text_of(app, "#status")
        await pilot.press("F")
        await pilot.pause()
    saved = app.return_value
    assert saved is not None
    written = {name for name, _, _ in saved.profiles}
    assert written == set(session.profiles())
    replay = load_decisions(out / "decisions.yaml")
    assert replay == app.session.all_decisions()
    mount = (out / "profiles" / "t-mount-complain").read_text()
    assert first.suggestion.key in mount


async def test_deny_ignore_and_undo(session: Session, out: Path, apparmor_parser: str) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        row = await go_to(app, pilot, "nginx.conf")
        await pilot.press("d")
        assert app.session.decision_for(row.profile, row.suggestion) == r.deny(row)
        await pilot.press("u")
        assert app.session.decision_for(row.profile, row.suggestion) is None
        await pilot.press("u")
        assert "nothing to undo" in text_of(app, "#status")
        await pilot.press("i")
        assert app.session.decision_for(row.profile, row.suggestion) == r.skip(row)
        other = await go_to(app, pilot, "default.conf")
        await pilot.press("ctrl+a")  # clear the filter text before the next
        await pilot.press("d")
        assert app.session.decision_for(other.profile, other.suggestion) == r.deny(other)
        await pilot.press("F")
        await pilot.pause()
    nginx = (out / "profiles" / "aaprof.shop.web.nginx").read_text()
    assert "/etc/nginx/nginx.conf" not in nginx  # ignored
    assert "deny /etc/nginx/conf.d/default.conf r," in nginx


async def test_glob_widens_ext_audit_and_owner(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        row = await go_to(app, pilot, "nginx.conf")
        await pilot.press("g")
        assert app.current() is not None
        assert written(app, row) == "/etc/nginx/* r,"
        await pilot.press("g")
        assert written(app, row) == "/etc/** r,"
        await pilot.press("e")
        assert written(app, row) == "/etc/nginx/*.conf r,"
        await pilot.press("t")
        assert written(app, row) == ("audit /etc/nginx/nginx.conf r,")
        await pilot.press("o")
        assert written(app, row) == ("owner /etc/nginx/nginx.conf r,")
        cap = await go_to(app, pilot, "net_bind_service")
        del cap
        await pilot.press("g")
        assert "no glob option" in text_of(app, "#status")


def written(app: ReviewApp, row: r.Row) -> str:
    """The rule `row` writes in the app's session now."""
    return app.index.redecided(row, app.session.decision_for(row.profile, row.suggestion)).text


async def test_new_rule_is_checked_as_you_type(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        row = await go_to(app, pilot, "nginx.conf")
        await pilot.press("n")
        assert isinstance(app.screen, EditRule)
        box = app.screen.query_one("#rule", Input)
        assert box.value == row.text
        await pilot.press("ctrl+a", "ctrl+k", *"/etc/nginx/*.conf r")
        assert "invalid" in str(app.screen.query_one("#verdict", Static).render())
        await pilot.press("enter")  # not taken: still editing
        assert isinstance(app.screen, EditRule)
        await pilot.press(",")
        assert "ok: one rule" in str(app.screen.query_one("#verdict", Static).render())
        await pilot.press("enter")
        assert not isinstance(app.screen, EditRule)
        assert app.session.decision_for(row.profile, row.suggestion) == r.typed(
            row, "/etc/nginx/*.conf r,"
        )
        await pilot.press("n", "escape")
        assert app.session.decision_for(row.profile, row.suggestion) == r.typed(
            row, "/etc/nginx/*.conf r,"
        )


async def test_exec_prompt_transitions_and_refusal(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        row = await go_to(app, pilot, "file-x/prog")
        await pilot.press("x")
        assert isinstance(app.screen, ExecPrompt)
        await pilot.press("p")
        decision = app.session.decision_for(row.profile, row.suggestion)
        assert decision is not None and decision.text == "/tmp/complain/file-x/prog mrPx,"
        await pilot.press("x", "N")  # named, environment kept: edit the target's name
        assert isinstance(app.screen, EditRule)
        await pilot.press("ctrl+e", *(["backspace"] * 5), *"helper,", "enter")
        decision = app.session.decision_for(row.profile, row.suggestion)
        assert decision is not None
        assert decision.text == "/tmp/complain/file-x/prog mrpx -> helper,"
        nnp = await go_to(app, pilot, "exec-nnp/cat")
        await pilot.press("ctrl+a", "x", "u")  # unconfined: the kernel refuses it there
        assert isinstance(app.screen, ExecPrompt)
        assert "no_new_privs" in str(app.screen.query_one("#verdict", Static).render())
        await pilot.press("i")
        decision = app.session.decision_for(nnp.profile, nnp.suggestion)
        assert decision is not None and decision.text == "/tmp/complain/exec-nnp/cat mrix,"
        cap = await go_to(app, pilot, "setgid")
        del cap
        await pilot.press("x")
        assert "not an exec" in text_of(app, "#status")


async def test_bulk_decisions_on_a_tree_node(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+tab")
        assert app.query_one("#tree", Tree).has_focus
        await pilot.press("down")  # the namespace `shop`
        await pilot.pause()
        assert app.node is not None and app.node.label == "shop"
        assert len(app.shown) == 11
        await pilot.press("I")
        assert all(
            app.session.decision_for(x.profile, x.suggestion) == r.skip(x) for x in app.shown
        )
        shop = app.query_one("#tree", Tree).get_node_at_line(1)
        assert shop is not None and "(done) shop" in str(shop.label)
        await pilot.press("u", "A")
        assert all(x.state == "allow" for x in app.shown)
        await pilot.press("u", "D")
        assert all(x.state == "deny" for x in app.shown)
        await pilot.press("A")
        assert "nothing to allow all" in text_of(app, "#status")


async def test_filters_severity_and_the_diff(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        total = len(app.shown)
        await pilot.press("s")
        assert 0 < len(app.shown) < total
        assert all(x.suggestion.rank >= 1 for x in app.shown)
        await pilot.press("s")
        assert all(x.suggestion.rank == 2 for x in app.shown)
        assert "severity ≥ high" in text_of(app, "#status")
        await pilot.press("s")
        assert len(app.shown) == total
        await pilot.press("slash", *"NGINX", "escape")
        assert app.shown and all("nginx" in x.profile + x.suggestion.key for x in app.shown)
        assert app.query_one("#rules", RuleList).has_focus
        assert not app.query_one("#diff").display
        await pilot.press("p")
        assert app.query_one("#diff").display
        diff = text_of(app, "#difftext")
        assert "(a new file)" in diff and "+profile aaprof.shop.web.nginx" in diff
        await pilot.press("i")
        assert "nginx" not in text_of(app, "#difftext").split("+profile")[1].split("\n")[1]


async def test_quit_asks_when_unsaved(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "q")
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmQuit)
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_value is None
    assert not out.exists()  # nothing written


async def test_quit_without_changes_leaves_at_once(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value is None and not out.exists()


async def test_help_lists_every_key(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        bound = {b.key for b in app.BINDINGS if hasattr(b, "key")}  # type: ignore[union-attr]
        letters = {k for keys, _ in KEYS for k in keys.split()}
        for key in bound:
            name = {"slash": "/", "question_mark": "?"}.get(key, key)
            assert name in letters, f"{key} is bound but not in the help"
        for keys, what in KEYS:
            assert f"{keys}" in shown and what in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_compile_error_is_shown_and_nothing_is_written(
    session: Session, out: Path, apparmor_parser: str
) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await go_to(app, pilot, "chown")
        # AppArmor 4's userns rule: aaprof's check takes it; the profile then pins abi/4.0, which
        # Debian 12's apparmor_parser does not have (nor does it know userns)
        await pilot.press("n", "ctrl+a", "ctrl+k", *"userns,", "enter", "F")
        await pilot.pause()
        assert app.is_running
        assert "not saved" in text_of(app, "#status")
        assert "parser error" in text_of(app, "#status")
    assert not (out / "decisions.yaml").exists()


async def test_a_typed_rule_that_profile_check_refuses_is_not_taken(
    session: Session, out: Path
) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        row = await go_to(app, pilot, "chown")
        await pilot.press("n", "ctrl+a", "ctrl+k", *"capability bogus,", "enter")
        assert isinstance(app.screen, EditRule)  # not taken: still editing
        verdict = str(app.screen.query_one("#verdict", Static).render())
        assert "invalid" in verdict and "unknown capability 'bogus'" in verdict
        await pilot.press("escape")
        assert app.session.decision_for(row.profile, row.suggestion) is None


async def test_an_unparsable_profile_is_named_and_the_review_goes_on(
    out: Path, apparmor_parser: str, read_sample: Callable[[Path], Session]
) -> None:
    (out / "profiles").mkdir(parents=True)
    broken = out / "profiles" / "broken"
    broken.write_text("profile broken {\n  /etc/hosts r,\n  what is this\n}\n")
    session, skipped = r.open_session(read_sample, out)
    app = app_for(session, out, skipped=skipped)
    async with app.run_test(size=SIZE) as pilot:
        assert f"{broken}:3" in text_of(app, "#status")
        await pilot.press("a", "F")
        await pilot.pause()
    assert app.return_value is not None
    assert broken.read_text() == "profile broken {\n  /etc/hosts r,\n  what is this\n}\n"


async def test_follow_shows_new_records(out: Path, read_sample: Callable[[Path], Session]) -> None:
    full = read_sample(out)
    ps = full.suggestions[0]
    fewer = Session.from_records((), out)  # nothing read yet
    fresh: list[Session] = [full]

    def reload() -> Session | None:
        return fresh.pop() if fresh else None

    app = app_for(fewer, out, reload=reload, reload_every=3600)
    async with app.run_test(size=SIZE) as pilot:
        assert len(app.shown) == 0
        app.refresh_records()
        await pilot.pause()
        shown: tuple[r.Row, ...] = app.shown
        assert len(shown) == len(r.rows(full))
        assert any(x.profile == ps.profile for x in shown)
        assert "new records" in text_of(app, "#status")
        app.refresh_records()  # nothing new: nothing changes
        assert len(app.shown) == len(r.rows(full))


async def test_the_mouse_picks_a_rule_and_a_node(session: Session, out: Path) -> None:
    app = app_for(session, out)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#rules", offset=(5, 3))
        assert app.query_one("#rules", RuleList).cursor == 3
        assert app.current() == app.shown[3]
        assert f"rule: {app.shown[3].text}" in text_of(app, "#evidence")
        await pilot.click("#tree", offset=(6, 1))  # the namespace `shop`
        await pilot.pause()
        assert app.node is not None and app.node.label == "shop"
        await pilot.press("tab", "j", "j", "k")  # from the tree to the rules
        assert app.query_one("#rules", RuleList).cursor == 1


async def test_follow_reads_in_the_background_and_reports_errors(
    out: Path, read_sample: Callable[[Path], Session]
) -> None:
    full = read_sample(out)
    answers: list[Session | AaprofError] = [AaprofError("x.log: gone")]

    def reload() -> Session | None:  # the timer's thread calls it: None is "nothing new"
        answer = answers.pop(0) if answers else None
        if isinstance(answer, AaprofError):
            raise answer
        return answer

    app = app_for(Session.from_records((), out), out, reload=reload, reload_every=0.01)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2000):  # poll the app (a bound, not a time)
            if "reading new records: x.log: gone" in app.message:
                break
            await pilot.pause(0.01)
        assert "reading new records: x.log: gone" in app.message
        assert len(app.shown) == 0
        answers.append(full)
        for _ in range(2000):
            if app.shown:
                break
            await pilot.pause(0.01)
        assert len(app.shown) == len(r.rows(full))
        assert "new records read" in app.message
