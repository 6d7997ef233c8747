"""Tests of aaprof.engine: least rules, suggestions, decisions and assembled profiles."""
