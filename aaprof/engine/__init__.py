"""The generator's engine: events → least rules → suggestions → decisions → profiles."""

from aaprof.engine.assemble import assemble, profile_filename
from aaprof.engine.decisions import (
    DECISIONS_FILE,
    Decision,
    apply,
    decisions_file,
    dump_decisions,
    found_decisions,
    load_decisions,
    parse_decisions,
    save_decisions,
)
from aaprof.engine.gaps import Gap
from aaprof.engine.options import KINDS, Item, Option
from aaprof.engine.rules import rule_for
from aaprof.engine.session import Preview, Saved, Session, Settings, learnt_modes
from aaprof.engine.suggest import ProfileSuggestions, Suggestion, suggest

__all__ = [
    "DECISIONS_FILE",
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
    "decisions_file",
    "dump_decisions",
    "found_decisions",
    "learnt_modes",
    "load_decisions",
    "parse_decisions",
    "profile_filename",
    "rule_for",
    "save_decisions",
    "suggest",
]
