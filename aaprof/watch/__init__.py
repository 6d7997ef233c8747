"""`aaprof watch`: follow a node's AppArmor records, count them, stream them, lose none."""
