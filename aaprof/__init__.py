"""aaprof: AppArmor profile authoring and violation monitoring for Kubernetes nodes."""

__version__ = "0.1.0"
