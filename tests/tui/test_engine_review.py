"""aaprof.engine.review: the tree, the rows and the keys' decisions, without a screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aaprof.engine import Session
from aaprof.engine import review as r
from aaprof.errors import AaprofError


def row(session: Session, profile: str, contains: str) -> r.Row:
    return next(x for x in r.rows(session, [profile]) if contains in x.suggestion.key)


def test_the_tree_groups_containers_and_leaves_host_profiles_alone(session: Session) -> None:
    nodes = r.tree(session)
    shop = nodes[0]
    assert (shop.kind, shop.label) == ("namespace", "shop")
    path = [n.label for n in shop.walk()]
    assert path == ["shop", "web", "nginx", "aaprof.shop.web.nginx"]
    host = nodes[1:]
    assert all(n.kind == "profile" and not n.children for n in host)
    assert {p for n in nodes for p in n.profiles} == {ps.profile for ps in session.suggestions}


def test_counts_fall_as_decisions_are_made(session: Session) -> None:
    shop = r.tree(session)[0]
    before = r.node_count(shop, r.undecided(session))
    assert before == 11
    decided = session.apply(r.bulk(r.rows(session, shop.profiles), "allow"))
    assert r.node_count(shop, r.undecided(decided)) == 0
    assert len(decided.pending()) == len(session.pending()) - before


def test_rows_sort_by_severity_and_filter(session: Session) -> None:
    rows = r.rows(session)
    ranks = [x.suggestion.rank for x in rows]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == 2
    assert all(x.suggestion.rank == 2 for x in r.rows(session, severity="high"))
    assert [x.suggestion.key for x in r.rows(session, text="NGINX.CONF")] == [
        "/etc/nginx/nginx.conf r,"
    ]
    with pytest.raises(AaprofError, match="severity"):
        r.rows(session, severity="urgent")


def test_glob_widens_on_each_press_then_wraps(session: Session) -> None:
    x = row(session, "aaprof.shop.web.nginx", "/etc/nginx/nginx.conf")
    seen = []
    for _ in range(4):
        decision = r.cycle(x, r.GLOBS)
        assert decision is not None
        session = session.apply([decision])
        x = row(session, x.profile, x.suggestion.key)
        seen.append(x.text)
    assert seen[:2] == ["/etc/nginx/* r,", "/etc/** r,"]
    assert seen[2] == seen[0]  # wraps round
    assert r.cycle(row(session, "t-capability-complain", "chown"), r.GLOBS) is None


def test_exec_prompt_refuses_transitions_under_no_new_privs(session: Session) -> None:
    nnp = row(session, "t-exec-nnp-complain", "mrix")
    choices = {c.mode + (">" if c.named else ""): c for c in r.exec_choices(nnp)}
    assert choices["ix"].refused is None
    assert all(c.refused for m, c in choices.items() if m != "ix")
    with pytest.raises(AaprofError, match="no_new_privs"):
        r.exec_decision(nnp, choices["Px"])
    free = row(session, "t-file-x-complain", "mrix")
    px = next(c for c in r.exec_choices(free) if c.mode == "Px" and not c.named)
    assert r.exec_decision(free, px).text == "/tmp/complain/file-x/prog mrPx,"
    named = next(c for c in r.exec_choices(free) if c.mode == "px" and c.named)
    assert r.exec_decision(free, named, "helper").text == (
        "/tmp/complain/file-x/prog mrpx -> helper,"
    )
    with pytest.raises(AaprofError, match="name"):
        r.exec_decision(free, named, " ")


def test_check_rule_says_why(session: Session) -> None:
    assert r.check_rule("/etc/hosts r,") is None
    assert r.check_rule("/etc/hosts r") is not None
    assert r.check_rule("/a r,\n/b r,") is not None
    # what `aaprof profile check` says of a rule that parses
    assert r.check_rule("signal (send) set=(bogus),") == "col 1: unknown signal 'bogus'"
    assert "owner" in (r.check_rule("owner capability sys_admin,") or "")
    assert r.check_rule("@{HOME}/.cache/** rw,") is None


def test_save_compiles_first_and_writes_nothing_on_error(
    session: Session, out: Path, apparmor_parser: str
) -> None:
    x = row(session, "t-capability-complain", "chown")
    bad = session.apply([r.typed(x, "capability bogus,")])
    with pytest.raises(AaprofError, match="Invalid capability bogus"):
        r.save(bad)
    assert not (out / "profiles").exists() or not any((out / "profiles").iterdir())
    saved = r.save(session)
    assert len(saved.profiles) == len(session.profiles())


def test_unparsable_profile_is_left_out_and_never_overwritten(
    out: Path, apparmor_parser: str, read_sample: Callable[[Path], Session]
) -> None:
    (out / "profiles").mkdir(parents=True)
    broken = out / "profiles" / "t-file-r-complain"
    broken.write_text("profile t-file-r-complain {\n  /etc/hosts r,\n  this is not policy\n}\n")
    session, skipped = r.open_session(read_sample, out)
    assert [p for p, _ in skipped] == [broken]
    message = r.left_out(*skipped[0])
    assert f"{broken}:3" in message
    assert session.out == out
    with pytest.raises(AaprofError, match="does not parse"):
        r.save(session, skipped=[broken])
    x = row(session, "t-file-r-complain", "/tmp/complain/file-r/f")
    saved = r.save(session.apply([r.skip(x)]), skipped=[broken])
    assert broken.read_text().endswith("this is not policy\n}\n")
    assert "t-file-w-complain" in {name for name, _, _ in saved.profiles}
