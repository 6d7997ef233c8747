"""`aaprof review`: the terminal UI over the engine's review session (Textual)."""
