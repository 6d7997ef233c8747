"""Attributing processes and profiles to Kubernetes containers."""

from aaprof.containers.cgroup import container_from_cgroup, container_from_path
from aaprof.containers.naming import container_from_profile, profile_name
from aaprof.containers.pod_status import join_pod_status
from aaprof.containers.proc import ProcResolver

__all__ = [
    "ProcResolver",
    "container_from_cgroup",
    "container_from_path",
    "container_from_profile",
    "join_pod_status",
    "profile_name",
]
