"""The optional C accelerator of aaprof/logs/bytescan.py (everything else is in pyproject.toml).

`optional=True`: where it cannot be built (no C compiler or Python headers), aaprof installs
without it and uses the pure-Python searches, which give the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("aaprof.logs._bytescan", ["aaprof/logs/_bytescan.c"], optional=True),
    ]
)
