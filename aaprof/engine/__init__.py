"""The generator's engine: events → least rules → suggestions → decisions → profiles."""

from aaprof.engine.assemble import assemble, profile_filename
from aaprof.engine.decisions import (
    Decision,
    apply,
    dump_decisions,
    load_decisions,
    parse_decisions,
    save_decisions,
)
from aaprof.engine.rules import rule_for
from aaprof.engine.suggest import Item, ProfileSuggestions, Suggestion, suggest

__all__ = [
    "Decision",
    "Item",
    "ProfileSuggestions",
    "Suggestion",
    "apply",
    "assemble",
    "dump_decisions",
    "load_decisions",
    "parse_decisions",
    "profile_filename",
    "rule_for",
    "save_decisions",
    "suggest",
]
