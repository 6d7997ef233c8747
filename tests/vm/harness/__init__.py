"""A real AppArmor kernel under qemu: build the images, boot, run steps, collect the records.

Usage::

    from vm.harness import Step, Workload, build_images, run_workload
    images = build_images()                     # cached: kernel, initramfs, Python image
    result = run_workload(images, Workload(steps=(Step("load", "apparmor_parser -r -W p"),)))
    result.check()                              # every step exited as expected
    result.dmesg                                # the kernel's log, audit records included
"""

from vm.harness.image import (
    HOST,
    TRIXIE,
    Images,
    Kernel,
    Release,
    VMSetupError,
    build_images,
    default_cache_dir,
)
from vm.harness.run import Step, StepFailed, StepResult, VMError, VMResult, Workload, run_workload

__all__ = [
    "HOST",
    "TRIXIE",
    "Images",
    "Kernel",
    "Release",
    "Step",
    "StepFailed",
    "StepResult",
    "VMError",
    "VMResult",
    "VMSetupError",
    "Workload",
    "build_images",
    "default_cache_dir",
    "run_workload",
]
