"""What the review's panels say: plain text, every state in words (never by colour alone)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.cells import cell_len

from aaprof.engine import Preview
from aaprof.engine import review as r
from aaprof.engine.spread import RuleCoverage
from aaprof.model import profile as m
from aaprof.model.printable import printable

MAX_DIFF_LINES = 400
EVIDENCE_LINES = 80  # the details pane's fixed height (review.tcss)


def shown(value: object) -> str:
    """A value from a record, with anything unprintable (a newline a process put in a file
    name) as an escape, so it cannot break the screen's lines."""
    return printable(value)


def severity_word(row: r.Row) -> str:
    sev = row.suggestion.severity
    return sev.split(":", 1)[0] if sev else "-"


def row_cells(row: r.Row) -> tuple[str, str, str, str]:
    """severity, record count, state, the rule written now (unprintables escaped; drawn as
    plain text, never markup: a rule holds names a confined process chose). A file rule
    written wider than recorded (a glob) says which recorded name its row is for
    (`…/client_temp/[0-9]* w,  ← 0000000001`), so rows that write one glob stay apart."""
    return (severity_word(row), str(row.suggestion.count), row.state, shown(rule_cell(row)))


def rule_cell(row: r.Row) -> str:
    rule = row.suggestion.rule
    if row.text == row.key or not isinstance(rule, m.FileRule) or not rule.path:
        return row.text
    name = rule.path.rstrip("/").rsplit("/", 1)[-1] + ("/" if rule.path.endswith("/") else "")
    return f"{row.text}  ← {name or rule.path}"


def elide(text: str, width: int) -> str:
    """`text` in at most `width` cells: when longer, its middle gives way to `…`, keeping its
    start and (the longer part) its end, where names and permissions tell rules apart."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head_room = (width - 1) * 2 // 5
    head = _cut(text, head_room)
    tail = _cut(text[::-1], width - 1 - cell_len(head))[::-1]
    return f"{head}…{tail}"


def _cut(text: str, width: int) -> str:
    """The longest start of `text` within `width` cells."""
    out, used = [], 0
    for c in text:
        used += cell_len(c)
        if used > width:
            break
        out.append(c)
    return "".join(out)


def _when(t: datetime | None) -> str:
    return t.isoformat(sep=" ", timespec="seconds") if t else "-"


def evidence_text(row: r.Row, seen: RuleCoverage | None = None) -> str:
    """The details panel: the profile, the severity, the evidence (with `seen`, where its
    records were seen: replicas and nodes, of how many ran) and the labelled options."""
    s = row.suggestion
    lines = [
        f"rule: {shown(row.text)}",
        f"profile: {shown(row.profile)}",
        f"state: {row.state}",
        f"severity: {shown(s.severity) if s.severity else 'none'}",
        f"records: {s.count}",
        f"first seen: {_when(s.first_seen)}",
        f"last seen: {_when(s.last_seen)}",
    ]
    if seen is not None:
        lines.append(f"seen {seen.where()}")
        if seen.outlier:
            lines.append("  OUTLIER: one replica of many; look before enforcing")
        if seen.replica_names:
            lines.append("  on: " + ", ".join(shown(n) for n in seen.replica_names))
    if s.comms:
        lines.append("comm: " + ", ".join(shown(c) for c in s.comms))
    if s.pids:
        lines.append("pid: " + ", ".join(str(p) for p in s.pids))
    if s.names:
        lines.append("names:")
        lines += [f"  {shown(n)}" for n in s.names]
    lines += ["", "options (* in force):"]
    for i, option in enumerate(s.choices):
        typed = row.decision is not None and row.decision.text is not None
        mark = "*" if i == row.choice and not typed else " "
        lines.append(f"{mark}{i} {option.kind}: {shown(option.text)}")
        lines.append(f"     {option.why}")
    if row.decision is not None and row.decision.text is not None:
        lines.append(f"* typed: {shown(row.decision.text)}")
    lines += ["", "sample records:"]
    for e in s.examples:
        parts = [e.mode, e.operation or "", e.comm or "", e.name or "", e.requested or ""]
        lines.append("  " + " ".join(shown(p) for p in parts if p))
    return "\n".join(lines[:EVIDENCE_LINES])


def diff_text(preview: Preview, root: Path | None = None) -> str:
    """The profile's change against the disk, as a unified diff (+ added, - removed); paths
    under `root` (the session's DIR) are shown relative to it."""
    where = str(preview.path)
    if root is not None and preview.path.is_relative_to(root):
        where = str(preview.path.relative_to(root))
    if not preview.diff:
        return f"{where}: nothing new to write"
    lines = [line.rstrip("\n") for line in preview.diff]
    lines[:2] = [x.replace(str(preview.path), where) for x in lines[:2]]
    head = f"{where}: {preview.new_rules} new rule(s)"
    if not preview.exists:
        head += " (a new file)"
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"… {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join([head, *(shown(x) for x in lines)])


def status_line(pending: int, unsaved: int, text: str, severity: str, shown_rows: int) -> str:
    """The counts and filters the status line shows, in words."""
    parts = [f"{pending} undecided", f"{unsaved} unsaved" if unsaved else "saved"]
    if text:
        parts.append(f"filter: {shown(text)}")
    if severity != "all":
        parts.append(f"severity ≥ {severity}")
    parts.append(f"{shown_rows} shown")
    return " · ".join(parts)
