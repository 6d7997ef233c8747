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
from aaprof.engine.gaps import Gap
from aaprof.engine.options import KINDS, Item, Option
from aaprof.engine.rules import rule_for
from aaprof.engine.session import Preview, Saved, Session, Settings
from aaprof.engine.suggest import ProfileSuggestions, Suggestion, suggest

__all__ = [
    "KINDS",
    "Decision",
    "Gap",
    "Item",
    "Option",
    "Preview",
    "ProfileSuggestions",
    "Saved",
    "Session",
    "Settings",
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
