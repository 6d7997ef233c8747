"""Reading AppArmor records from logs: line formats, the record parser, sources."""

from aaprof.logs.lines import ParseResult, Unparsed, parse_journal_entry, parse_line

__all__ = ["ParseResult", "Unparsed", "parse_journal_entry", "parse_line"]
