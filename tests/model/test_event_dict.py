"""Event.from_dict: the exact inverse of to_dict (property-tested), and its errors."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aaprof.model.event import (
    EVENT_SLOTS,
    MODES,
    Container,
    Event,
    SourceRef,
    event_from_values,
    event_values,
    values_of_fields,
)

# Text as a record may hold it: any code point, and bytes that are not UTF-8 kept as surrogates.
_RAW = st.binary(max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape"))
TEXT = st.one_of(st.text(max_size=12), _RAW)
INT = st.integers(min_value=-(2**40), max_value=2**40)
TIMES = st.builds(
    lambda ms: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms),
    st.integers(min_value=0, max_value=60 * 365 * 86400 * 1000),
)
PART = st.text(alphabet="abc-0123456789", min_size=1, max_size=8)
CONTAINERS = st.builds(
    Container,
    *(st.none() | PART for _ in range(6)),
)
# extra keys never end in `_hex`: that suffix is to_dict's companion for bytes that are not UTF-8
EXTRA_KEYS = st.text(alphabet="abcdefgh_", min_size=1, max_size=6).filter(
    lambda k: not k.endswith("_hex")
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    fields: dict[str, object] = {"mode": draw(st.sampled_from(MODES))}
    for name in Event.__dataclass_fields__:
        if name in {"mode", "time", "source", "container", "extra"}:
            continue
        kind = Event.__dataclass_fields__[name].type
        strategy = (
            INT if kind == "int | None" else st.one_of(TEXT, INT) if "Scalar" in str(kind) else TEXT
        )
        fields[name] = draw(st.none() | strategy)
    fields["time"] = draw(st.none() | TIMES)
    fields["source"] = draw(st.none() | st.builds(SourceRef, TEXT, st.integers(1, 10**6)))
    fields["container"] = draw(st.none() | CONTAINERS)
    fields["extra"] = draw(st.dictionaries(EXTRA_KEYS, st.one_of(TEXT, INT), max_size=3))
    return Event(**fields)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(events())
def test_from_dict_inverts_to_dict_through_json(event: Event) -> None:
    doc = json.loads(json.dumps(event.to_dict(), ensure_ascii=False))
    assert Event.from_dict(doc) == event
    assert Event.from_dict(doc).to_dict() == event.to_dict()


@given(events(), events())
def test_from_values_builds_the_event_of_its_values(event: Event, other: Event) -> None:
    assert event_from_values(event_values(event)) == event
    # the parser's cached path: another record's values, with this one's own put in
    values = list(event_values(other))
    for name in ("time", "serial", "node", "source", "pid", "mode"):
        values[EVENT_SLOTS.index(name)] = getattr(event, name)
    built = event_from_values(values)
    assert built == dataclasses.replace(
        other, **{n: getattr(event, n) for n in ("time", "serial", "node", "source", "pid", "mode")}
    )


@given(events())
def test_values_of_fields_are_the_values_of_the_event(event: Event) -> None:
    fields = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(Event)
        if f.name not in {"mode", "extra"} and getattr(event, f.name) != f.default
    }
    values = values_of_fields(event.mode, fields, event.extra)
    assert values == list(event_values(Event(mode=event.mode, extra=event.extra, **fields)))
    assert event_from_values(values) == event


@pytest.mark.parametrize("name", ["mode", "extra", "class", "no_such_field"])
def test_values_of_fields_refuses_what_event_would(name: str) -> None:
    with pytest.raises(TypeError):
        values_of_fields("DENIED", {name: "x"}, {})


def test_a_name_that_is_not_utf8_comes_back_byte_for_byte() -> None:
    raw = b"/srv/caf\xe9/\xff"
    event = Event("ALLOWED", name=raw.decode("utf-8", "surrogateescape"), extra={"k": "\udcff"})
    doc = event.to_dict()
    assert doc["name_hex"] == raw.hex().upper()
    back = Event.from_dict(doc)
    assert back.name is not None and back.name.encode("utf-8", "surrogateescape") == raw
    assert back == event


def test_a_plain_key_ending_in_hex_is_not_taken_for_a_companion() -> None:
    # `x_hex` here is valid UTF-8 once decoded: to_dict never writes such a companion
    event = Event("ALLOWED", extra={"x": "A", "x_hex": "41"})
    assert Event.from_dict(event.to_dict()) == event


def test_epoch_is_read_when_time_is_absent() -> None:
    event = Event.from_dict({"mode": "DENIED", "epoch": 1700000000.5})
    assert event.time == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "mode"),
        ({"mode": "DENIED", "pid": "12"}, "'pid'"),
        ({"mode": "DENIED", "name": 3}, "'name'"),
        ({"mode": "DENIED", "pid": True}, "'pid'"),
        ({"mode": "DENIED", "time": 5}, "time"),
        ({"mode": "DENIED", "extra": {"a": [1]}}, "extra"),
        ({"mode": "DENIED", "container": {"id": 1}}, "container"),
        ({"mode": "DENIED", "source": {"file": "x"}}, "source"),
    ],
)
def test_a_wrong_value_is_named(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Event.from_dict(doc)
