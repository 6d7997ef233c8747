"""What a new user sees in the review: rules that read apart at every size, rows a chosen glob
covers shown (and saved) as covered, one word for the `i` key."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding
from textual.pilot import Pilot

from aaprof.engine import Saved, Session
from aaprof.engine import review as r
from aaprof.tui.app import ReviewApp
from aaprof.tui.rules import RuleList
from aaprof.tui.text import elide

NGINX = "aaprof.shop.web.nginx"
SUMMER = '"/usr/share/nginx/html/summer sale.html" r,'
INDEX = "/usr/share/nginx/html/index.html r,"
GLOB = "/usr/share/nginx/html/* r,"


def row_of(session: Session, key: str) -> r.Row:
    return next(x for x in r.rows(session, [NGINX]) if x.key == key)


async def on_shop(pilot: Pilot[Saved | None]) -> None:
    await pilot.press("shift+tab", "down", "tab")
    await pilot.pause()


def drawn(app: ReviewApp) -> list[str]:
    """The rule list's lines as drawn on the screen."""
    table = app.query_one("#rules", RuleList)
    lines = [table.render_line(y).text.rstrip() for y in range(table.size.height)]
    return [line for line in lines if line]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "size", [(80, 24), (120, 36), (160, 50)], ids=["80x24", "120x36", "160x50"]
)
async def test_every_rule_reads_apart_at_every_size(
    session: Session, out: Path, size: tuple[int, int]
) -> None:
    """The three client_temp rows write one glob; each line still names its own record."""
    app = ReviewApp(session, decisions_file=out / "decisions.yaml")
    async with app.run_test(size=size) as pilot:
        await on_shop(pilot)
        lines = drawn(app)
        width = app.query_one("#rules", RuleList).size.width
    assert len(lines) == 11
    assert len(set(lines)) == len(lines), "\n".join(lines)
    temp = [line for line in lines if "/var/cache" in line]
    assert len(temp) == 3
    assert [line.endswith(f"000000000{n}") for n, line in enumerate(temp, 1)] == [True] * 3
    assert all(len(line) <= width for line in lines)


def test_elide_keeps_both_ends() -> None:
    rule = "/var/cache/nginx/client_temp/[0-9]* w,  ← 0000000001"
    assert elide(rule, 100) == rule
    cut = elide(rule, 27)
    assert len(cut) == 27 and cut.startswith("/var/cache") and cut.endswith("← 0000000001")
    assert elide("漢字漢字漢字", 7) == "漢…漢字"  # 7 cells: wide characters count twice


def test_a_chosen_glob_covers_the_rows_it_allows_and_saving_leaves_them_out(
    session: Session, out: Path
) -> None:
    summer = row_of(session, SUMMER)
    glob = r.cycle(summer, r.GLOBS)
    assert glob is not None
    later = session.apply([glob])
    assert row_of(later, SUMMER).text == GLOB
    assert row_of(later, INDEX).state == "covered"
    assert row_of(session, INDEX).state == "new"
    # the glob itself is not covered, nor a rule of another directory
    assert row_of(later, SUMMER).state == "allow"
    assert row_of(later, "/etc/nginx/nginx.conf r,").state == "new"
    text = later.preview(NGINX).text
    assert GLOB in text and INDEX not in text
    later.save()
    saved = (out / "profiles" / NGINX).read_text()
    assert GLOB in saved and INDEX not in saved


@pytest.mark.asyncio
async def test_the_app_shows_covered_as_the_glob_is_chosen_and_undone(
    session: Session, out: Path
) -> None:
    app = ReviewApp(session, decisions_file=out / "decisions.yaml")
    async with app.run_test(size=(120, 36)) as pilot:
        await on_shop(pilot)
        table = app.query_one("#rules", RuleList)
        table.cursor = next(i for i, x in enumerate(app.shown) if x.key == SUMMER)
        await pilot.press("g")
        await pilot.pause()
        index = next(line for line in drawn(app) if "index.html" in line)
        assert index.split()[2] == "covered"
        await pilot.press("u")
        await pilot.pause()
        index = next(line for line in drawn(app) if "index.html" in line)
        assert index.split()[2] == "new"


@pytest.mark.asyncio
async def test_the_i_key_and_the_state_column_say_the_same_word(
    session: Session, out: Path
) -> None:
    app = ReviewApp(session, decisions_file=out / "decisions.yaml")
    legend = next(
        b.description for b in ReviewApp.BINDINGS if isinstance(b, Binding) and b.key == "i"
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await on_shop(pilot)
        await pilot.press("i")
        await pilot.pause()
        first = drawn(app)[0]
    assert first.split()[2] == legend == "ignore"
