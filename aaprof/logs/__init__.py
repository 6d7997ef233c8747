"""Reading AppArmor records from logs: line formats, the record parser, sources."""
