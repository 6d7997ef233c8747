"""The catalogue: AppArmor profiles for a node's own components, learnt by aaprof.

Each entry's profile is package data (`aaprof/catalogue/profiles/<name>`), learnt in the test VM
by `scripts/catalogue-learn.py` (the component in complain mode through a scripted workload, then
`aaprof generate` with the entry's decisions file, `aaprof/catalogue/decisions/<name>.yaml`), and
proven under enforce by `tests/vm/test_catalogue.py`. The file starts with its provenance
header: `# catalogue <key>: <value>` lines naming the component, its version, the workload, the
aaprof version and the decisions file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aaprof.errors import AaprofError

HEADER = "# catalogue "
HOST, POD = "host service", "pod"
# the header's keys, in the order the learning script writes them
KEYS = (
    "entry",
    "component",
    "version",
    "source",
    "runs",
    "attach",
    "workload",
    "aaprof",
    "decisions",
)
_LINE = re.compile(r"# catalogue ([a-z]+): (.*)")
_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class Entry:
    """One component the catalogue has a profile for.

    `runs` is HOST (a systemd unit: the profile attaches by the program's path, `attach`) or POD
    (`image` names the Debian-built image it runs in; `namespace`/`workload`/`container` name the
    container the Kubernetes bundle sets the profile on). `source` says where the program came
    from; `workload` what the learning run did with it.
    """

    name: str
    component: str
    runs: str
    attach: str  # the program's path: the profile's attachment (HOST) or the image's binary
    source: str
    workload: str
    image: str | None = None
    namespace: str | None = None
    container: str | None = None

    @property
    def profile_name(self) -> str:
        """The profile's name: the program's path for a host service (attach by path), aaprof's
        `aaprof.<namespace>.<workload>.<container>` for a pod."""
        if self.runs == HOST:
            return self.attach
        return f"aaprof.{self.namespace}.{self.name}.{self.container}"


ENTRIES: tuple[Entry, ...] = (
    Entry(
        name="etcd",
        component="etcd",
        runs=HOST,
        attach="/usr/local/bin/etcd",
        source="etcd's Go module pinned in tests/cluster/go/etcd (tests/cluster/build-go.sh etcd)",
        workload="put, get, watch, compaction, snapshot, defragment, status over the v3 JSON "
        "gateway; stop (tests/vm/catalogue_guest/etcd_workload.py learn)",
    ),
    Entry(
        name="prometheus",
        component="Prometheus",
        runs=POD,
        attach="/usr/bin/prometheus",
        source="Debian 12's package prometheus (2.42.0+ds-5+deb12u1), /usr/bin/prometheus",
        workload="scrape of two jobs, a recording and an alerting rule evaluated, reload through "
        "/-/reload and SIGHUP with changed rules, queries; stop "
        "(tests/vm/catalogue_guest/prometheus_workload.py learn)",
        image="debian:bookworm with the package prometheus",
        namespace="monitoring",
        container="prometheus",
    ),
    Entry(
        name="alertmanager",
        component="Alertmanager",
        runs=POD,
        attach="/usr/bin/prometheus-alertmanager",
        source="Debian 12's package prometheus-alertmanager (0.25.0-1+b4), "
        "/usr/bin/prometheus-alertmanager",
        workload="alerts posted and listed, one delivered to a webhook, a silence created and "
        "expired, reload through /-/reload and SIGHUP, snapshots of silences and the "
        "notification log every second; stop "
        "(tests/vm/catalogue_guest/alertmanager_workload.py learn)",
        image="debian:bookworm with the package prometheus-alertmanager",
        namespace="monitoring",
        container="alertmanager",
    ),
    Entry(
        name="node-exporter",
        component="prometheus-node-exporter",
        runs=HOST,
        attach="/usr/bin/prometheus-node-exporter",
        source="Debian 12's package prometheus-node-exporter (1.5.0-1+b6), its systemd unit",
        workload="the default collectors scraped, a textfile-collector file written and seen; "
        "stop (tests/vm/catalogue_guest/node-exporter_workload.py learn)",
    ),
    Entry(
        name="influxdb",
        component="InfluxDB",
        runs=HOST,
        attach="/usr/bin/influxd",
        source="Debian 12's package influxdb (1.6.7~rc0-1+b13), its systemd unit",
        workload="a database created, points written in batches and queried, a retention policy "
        "and a continuous query created, a measurement dropped; stop "
        "(tests/vm/catalogue_guest/influxdb_workload.py learn)",
    ),
)


def entry(name: str) -> Entry:
    """The entry called `name`.

    Raises:
        AaprofError: no entry has that name (the message lists them).
    """
    for e in ENTRIES:
        if e.name == name:
            return e
    names = ", ".join(e.name for e in ENTRIES)
    raise AaprofError(f"the catalogue has no entry {name!r} (entries: {names})")


def _data() -> Path:
    return Path(str(resources.files("aaprof.catalogue")))


def profile_path(name: str) -> Path:
    """Where the entry's profile lies in the installed package."""
    if not _NAME.fullmatch(name):
        raise AaprofError(f"not a catalogue entry name: {name!r}")
    return _data() / "profiles" / name


def decisions_path(name: str) -> Path:
    """The decisions file the entry's profile was learnt with."""
    if not _NAME.fullmatch(name):
        raise AaprofError(f"not a catalogue entry name: {name!r}")
    return _data() / "decisions" / f"{name}.yaml"


def profile_text(name: str) -> str:
    """The entry's profile, provenance header first.

    Raises:
        AaprofError: no such entry, or its profile has not been learnt into this package.
    """
    e = entry(name)
    path = profile_path(e.name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AaprofError(
            f"{path}: the catalogue entry {name!r} has no profile (scripts/catalogue-learn.py "
            "learns it)"
        ) from None


def provenance(text: str, where: str = "profile") -> dict[str, str]:
    """The `# catalogue key: value` lines at the top of a profile, as a mapping.

    Raises:
        AaprofError: a key is missing or repeated (naming `where` and the line).
    """
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith(HEADER):
            break
        found = _LINE.fullmatch(line)
        if not found or found.group(1) not in KEYS or found.group(1) in out:
            raise AaprofError(f"{where}:{number}: not a provenance line: {line!r}")
        out[found.group(1)] = found.group(2)
    missing = [k for k in KEYS if k not in out]
    if missing:
        raise AaprofError(f"{where}:1: the provenance header lacks {', '.join(missing)}")
    return out


def header(values: dict[str, str]) -> str:
    """The provenance header for `values` (every key of KEYS), one line each.

    Raises:
        AaprofError: a key is missing, or a value holds a newline (it would end the comment).
    """
    lines = []
    for key in KEYS:
        value = values.get(key)
        if value is None:
            raise AaprofError(f"the provenance header lacks {key}")
        if "\n" in value or "\r" in value:
            raise AaprofError(f"the provenance value of {key} holds a line break")
        lines.append(f"{HEADER}{key}: {value}\n")
    return "".join(lines)


def write_profile(name: str, out: Path) -> Path:
    """Write the entry's profile, provenance header first, to `out/<name>` (the directory made
    if missing). What runs in a pod also needs its Kubernetes bundle: `aaprof catalogue write`
    writes it beside, with aaprof.k8s's bundle code.

    Raises:
        AaprofError: no such entry or profile, or a file that cannot be written.
    """
    from aaprof.profiles.compare import write_atomically

    e = entry(name)
    text = profile_text(e.name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AaprofError(f"{out}: cannot make the directory: {exc.strerror}") from None
    path = out / e.name
    write_atomically(path, text)
    return path
