"""The one aaprof image: what the loader and the watch DaemonSets run (docs/kubernetes.md).

`./dev.sh image` builds it (Debian packages + the aaprof wheel, no registry) and tags it with
DEFAULT_IMAGE's tag; every command that writes a manifest names DEFAULT_IMAGE unless told
`--image`.
"""

from __future__ import annotations

from aaprof import __version__
from aaprof.errors import AaprofError

# import the build on the nodes under this name (`ctr -n k8s.io images import --base-name
# localhost/aaprof ...`), or push it to a registry and pass `--image`
DEFAULT_IMAGE = f"localhost/aaprof:{__version__}"


def check_image(image: str) -> str:
    """`image`, if it can be a container image reference (non-empty, printable, no blanks).

    Raises:
        AaprofError: It cannot.
    """
    if not image or any(c.isspace() for c in image) or not image.isprintable():
        raise AaprofError(f"image {image!r} is not an image reference")
    return image
