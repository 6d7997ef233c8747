#!/usr/bin/env python3
"""Unpack the aaprof wheel (or a pure-Python dependency's, such as pyparsing's) into a Debian
root filesystem as Debian's Python finds it.

    scripts/unpack-wheel.py WHEEL ROOT

The package goes to ROOT/usr/lib/python3/dist-packages, the wheel's data files (the
Kubernetes templates) under ROOT/usr (`sys.prefix` there), and ROOT/usr/local/bin/aaprof
runs it. Used by scripts/build-image.sh (`./dev.sh image`): a pure-Python
wheel needs no pip in the image.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

# the console script pip would write (pyproject's [project.scripts]): `aaprof --help` says
# "Usage: aaprof ...", not "python -m aaprof"
LAUNCHER = (
    "#!/usr/bin/python3\nimport sys\n\nfrom aaprof.cli.main import main\n\nsys.exit(main())\n"
)


def main() -> None:
    wheel, root = sys.argv[1], Path(sys.argv[2])
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if name.endswith("/"):
                continue
            if parts[0].endswith(".data"):
                if parts[1] != "data":
                    continue  # scripts: the launcher below replaces them
                target = root.joinpath("usr", *parts[2:])
            else:
                target = root.joinpath("usr/lib/python3/dist-packages", *parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    launcher = root / "usr/local/bin/aaprof"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)


if __name__ == "__main__":
    main()
