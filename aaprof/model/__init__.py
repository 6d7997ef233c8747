"""aaprof data model: frozen types shared by every module."""
