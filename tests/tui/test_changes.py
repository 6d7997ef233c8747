"""A key redraws only what it changed (aaprof/tui/changes.py): after every key the rows, the
counts and the tree's labels are what a full recount and a fresh listing give."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static, Tree

from aaprof.engine import Session
from aaprof.engine import review as r
from aaprof.tui.app import ReviewApp
from aaprof.tui.changes import changed
from aaprof.tui.footer import ReviewFooter, shown_keys
from aaprof.tui.rules import RuleList
from aaprof.tui.text import diff_text, row_cells

FOOTER = ["a", "d", "i", "g", "u", "p", "F", "q", "question_mark"]  # shown when not typing


def check_redrawn(app: ReviewApp) -> None:
    profiles = app.node.profiles if app.node is not None else None
    fresh = r.rows(app.session, profiles, text=app.text_filter, severity=app.severity)
    assert app.shown == fresh
    assert list(app.query_one("#rules", RuleList).lines) == [row_cells(x) for x in fresh]
    assert app.counts.of == r.undecided(app.session)
    assert app.pending == len(app.session.pending())
    tree = app.query_one("#tree", Tree)
    assert str(tree.root.label) == f"({app.pending}) all profiles"


@pytest.mark.asyncio
async def test_every_key_leaves_what_a_full_redraw_would_show(session: Session) -> None:
    app = ReviewApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        check_redrawn(app)
        for key in ("a", "i", "g", "g", "d", "u", "down", "a", "u", "u", "s", "a", "u", "s"):
            await pilot.press(key)
            check_redrawn(app)
        await pilot.press("slash")
        for key in ("n", "g", "i", "backspace", "x", "backspace", "backspace", "backspace"):
            await pilot.press(key)  # listed as typed (FilterBox), not a frame later
            assert app.text_filter == app.query_one("#filter", Input).value
            check_redrawn(app)
        await pilot.press("escape")
        await pilot.press("shift+tab", "down")  # a namespace: the bulk keys act under it
        assert app.query_one("#tree", Tree).has_focus and app.node is not None
        for key in ("A", "u", "I", "a", "u", "u"):
            await pilot.press(key)
            check_redrawn(app)


def test_changed_names_the_keys_made_unmade_or_replaced(session: Session) -> None:
    rows = r.rows(session)
    one = session.apply([r.allow(rows[0]), r.skip(rows[1])])
    two = one.apply([r.deny(rows[1]), r.allow(rows[2])])
    assert changed(session, session) == set()
    assert changed(one, two) == {(x.profile, x.key) for x in rows[1:3]}
    assert changed(two, one) == changed(one, two)
    assert changed(session, two) == {(x.profile, x.key) for x in rows[:3]}


@pytest.mark.asyncio
async def test_the_diff_shown_is_the_current_sessions_for_the_current_rule(
    session: Session,
) -> None:
    app = ReviewApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        for key in ("down", "a", "down", "down", "i", "u", "s", "down", "s", "s"):
            await pilot.press(key)
            row = app.current()
            assert row is not None
            preview = app.session.preview(row.profile.split("//", 1)[0])
            shown = str(app.query_one("#difftext", Static).render())
            assert shown == diff_text(preview, app.session.out)


@pytest.mark.asyncio
async def test_the_footer_shows_the_active_keys_after_each_focus_change(session: Session) -> None:
    app = ReviewApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("slash", "x", "enter", "slash", "backspace", "escape", "shift+tab", "tab"):
            await pilot.press(key)
            await pilot.pause()
            footer = app.query_one(ReviewFooter)
            keys = [binding.key for binding, _enabled, _tooltip in footer.keys]
            assert keys == [k[0] for k in shown_keys(app.screen)]
            assert keys == ([] if app.focused is app.query_one("#filter") else FOOTER)
            drawn = str(footer.render())
            keys_drawn = (f" {app.get_key_display(b)} {b.description} " for b, *_ in footer.keys)
            assert drawn == "".join(keys_drawn)


@pytest.mark.asyncio
async def test_a_click_on_a_key_in_the_footer_presses_it(session: Session) -> None:
    app = ReviewApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        footer = app.query_one(ReviewFooter)
        start = str(footer.render()).index(" p diff ")
        assert not app.query_one("#diff").display
        await pilot.click(ReviewFooter, offset=(start + 2, 0))
        await pilot.pause()
        assert app.query_one("#diff").display
