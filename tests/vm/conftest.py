"""Fixtures for the tests that boot a real AppArmor kernel under qemu."""

from __future__ import annotations

from pathlib import Path

import pytest

from vm.harness import TRIXIE, Images, VMSetupError, build_images

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "vm"


@pytest.fixture(scope="session")
def vm_images() -> Images:
    """The kernel, initramfs and Python image (built once, cached in .cache/vm)."""
    try:
        return build_images(CACHE)
    except VMSetupError as exc:
        pytest.fail(f"cannot build the test VM: {exc}")


@pytest.fixture(scope="session")
def vm_images_trixie() -> Images:
    """Debian 13's 6.12 cloud kernel and AppArmor 4.1's apparmor_parser (docs/vm.md)."""
    try:
        return build_images(CACHE, TRIXIE)
    except VMSetupError as exc:
        pytest.fail(f"cannot build the Debian 13 test VM: {exc}")
