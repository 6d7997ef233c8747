"""The fast path (a record parsed once per stamp-less form) writes what the ordinary one does."""

from __future__ import annotations

import json

import pytest
import shared_corpus

from aaprof.logs.lines import parse_line
from aaprof.model.event import Container, Event, SourceRef
from aaprof.watch.attribution import Attribution
from aaprof.watch.lines import LineCache, Stamped
from aaprof.watch.output import LineWriter
from watch.records import audit_line, hostile_line

CORPUS = shared_corpus.CORPUS / "wild" / "lines.txt"  # optional: more lines where present

LINES = [
    audit_line(7),
    audit_line(1234567, profile="k8s-nginx", name="/etc/x y", comm="a b"),
    hostile_line(9, b'p"}\n\xff', b"/tmp/\n{", b"c\xfe"),
    b'[ 12.345678] audit: type=1400 audit(1700000000.5:88): apparmor="DENIED" '
    b'operation="capable" class="cap" profile="web" pid=1 comm="ping" capability=13 '
    b'capname="net_raw"\n',
    b"Nov 14 22:13:20 node-a kernel: [ 1.2] audit: type=1400 audit(1700000000.123:89): "
    b'apparmor="ALLOWED" operation="exec" profile="p" name="/bin/x" pid=5 comm="sh" '
    b'requested_mask="x" denied_mask="x" fsuid=0 ouid=0 target="p//null-/bin/x" '
    b'unknownkey=5 other="q"\n',
    b'node=n1 type=AVC msg=audit(1700000000.999:90): apparmor="DENIED" operation="open" '
    b'profile="runc" name="/proc/1/attr/apparmor/exec" pid=4 comm="runc:[2:INIT]"\n',
]
CORPUS_LINES = CORPUS.read_bytes().splitlines(keepends=True) if CORPUS.exists() else []
WHO = Attribution("ns", "wl", "c")
CONTAINER = Container(id="a" * 64, namespace="ns", pod="wl-0", name="c")


@pytest.mark.parametrize("line", LINES + CORPUS_LINES)
def test_fast_and_ordinary_lines_are_the_same(line: bytes) -> None:
    source = SourceRef("/var/log/audit/audit.log", 3)
    cache, writer = LineCache(node="me"), LineWriter()
    first = cache.read(line, source)
    again = cache.read(line, source)  # from the cache this time
    slow = parse_line(line, source, node="me")
    if not isinstance(slow, Event):
        assert not isinstance(first, Stamped) and first == slow
        return
    want = json.loads(writer.line(slow, CONTAINER, WHO, False))
    for got in (first, again):
        if isinstance(got, Stamped):
            assert got.event(source) == slow
            text = writer.stamped(got, source, CONTAINER, WHO)
            noise = got.template.noise
        else:
            assert got == slow
            text = writer.line(slow, CONTAINER, WHO, False)
            noise = False
        assert text.endswith(b"\n") and text.count(b"\n") == 1
        assert json.loads(text) == {**want, **({"noise": True} if noise else {})}


def test_the_stamped_path_is_taken_for_stamped_records() -> None:
    cache = LineCache(node=None)
    assert isinstance(cache.read(audit_line(1), SourceRef("f", 1)), Stamped)
