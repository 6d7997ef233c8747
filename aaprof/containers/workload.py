"""A pod's workload, from the pod's name alone (no API access): the controllers' name suffixes.

Kubernetes controllers name their pods after the workload with a suffix of their own:
Deployment -> ReplicaSet `<deploy>-<pod-template-hash>` -> pod `<rs>-<5 random>`; DaemonSet,
Job and a bare ReplicaSet `<name>-<5 random>`; CronJob -> Job `<cronjob>-<minutes since epoch>`
-> pod `<job>-<5 random>`; StatefulSet `<name>-<ordinal>`. The random parts are drawn from the
API machinery's alphabet (`bcdfghjklmnpqrstvwxz2456789`: no vowels, no 0 1 3), which is what
keeps the guess safe: a name segment like `-web` or `-v2` is never taken for a suffix.
"""

from __future__ import annotations

import re
from typing import Final

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated name suffixes.
_RAND: Final = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT: Final = re.compile(rf"(?P<name>.+)-{_RAND}{{6,10}}-{_RAND}{{5}}")
_CRONJOB: Final = re.compile(r"(?P<name>.+)-[0-9]{8,10}-" + _RAND + "{5}")
_GENERATED: Final = re.compile(rf"(?P<name>.+)-{_RAND}{{5}}")
_STATEFUL: Final = re.compile(r"(?P<name>.+)-(?:0|[1-9][0-9]{0,5})")


def workload_of_pod(pod: str) -> str:
    """The name of the workload that made pod `pod`, or the pod's own name when none shows.

    Args:
        pod: A pod name, as in `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`.

    Returns:
        The Deployment, CronJob, DaemonSet/Job/ReplicaSet or StatefulSet name the suffixes
        point to; the pod name for a bare or static pod.
    """
    for pattern in (_CRONJOB, _DEPLOYMENT, _GENERATED, _STATEFUL):
        match = pattern.fullmatch(pod)
        if match is not None:
            return match["name"]
    return pod
