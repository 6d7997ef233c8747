"""Tests of aaprof.profiles; compiled.py is a helper the others import as `profiles.compiled`."""
