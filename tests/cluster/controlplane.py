"""A real Kubernetes control plane on 127.0.0.1, for the tests and for people.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built from their Go modules at
the versions pinned under tests/cluster/go/ (tests/cluster/build-go.sh), each on free ports of
127.0.0.1, with a throwaway PKI and data directory. `./dev.sh cluster up|down` and the tests'
`cluster` fixture (tests/cluster/conftest.py) both use this module:

    python3 tests/cluster/controlplane.py up [--dir DIR]     # last stdout line: export KUBECONFIG=…
    python3 tests/cluster/controlplane.py down [--dir DIR]

Stdlib only: it runs before any virtualenv exists. Every component logs to DIR/logs/NAME.log.
docs/cluster.md says what is started, with which flags, and why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = HERE / "build-go.sh"
DEFAULT_DIR = ROOT / ".cluster"
# How long a component may take to become ready; generous because CI runs beside two CPU hogs.
READY_TIMEOUT = 300.0
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# A node in the qemu VM (`up --node`, tests/cluster/node.py) is slow under software emulation:
# the controller manager waits this long for its status or lease before marking it NotReady
# (default 50 s; the kubelet renews its lease every 30 s, node.py), and a NotReady or
# unreachable node's pods are evicted after this many seconds (the API server's default
# tolerations, default 300 s). docs/cluster.md has the values.
NODE_MONITOR_GRACE = "240s"
EVICTION_TOLERATION_SECONDS = "3600"


class ClusterError(RuntimeError):
    """The control plane could not be built, started or reached (the message says how to fix)."""


def log(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


def bin_dir(family: str, build: bool = True) -> Path:
    """The directory holding FAMILY's programs; built first when BUILD and not cached yet."""
    args = [str(BUILD), family] if build else [str(BUILD), "--where", family]
    proc = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(
            f"the {family} programs are not built: run `tests/cluster/build-go.sh {family}` "
            "(needs Go >= 1.26 and the Go module proxy; docs/cluster.md)"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args[:2])}: {proc.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate, client certificates and the SA key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=pki)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=aaprof-test-ca",
        "-days", "2", "-out", "ca.crt", cwd=pki,
    )  # fmt: skip
    certs = {
        # name: (subject, extensions)
        "apiserver": (
            "/CN=kube-apiserver",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,"
            "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
            # 10.0.2.2: the host as the node's VM sees it (qemu's user-mode network)
            "IP:10.0.0.1,IP:10.0.2.2\nextendedKeyUsage=serverAuth",
        ),
        "admin": ("/O=system:masters/CN=aaprof-admin", "extendedKeyUsage=clientAuth"),
        "controller-manager": ("/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth"),
        "scheduler": ("/CN=system:kube-scheduler", "extendedKeyUsage=clientAuth"),
        "apiserver-kubelet-client": (
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            "extendedKeyUsage=clientAuth",
        ),
    }
    for name, (subject, ext) in certs.items():
        sign_cert(pki, name, subject, ext)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def sign_cert(pki: Path, name: str, subject: str, ext: str) -> None:
    """PKI/NAME.key and PKI/NAME.crt: a new key and its certificate for SUBJECT, signed by the
    CA (PKI/ca.crt), with the X.509 extensions EXT (openssl's extfile lines)."""
    (pki / f"{name}.ext").write_text(ext + "\n")
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=pki)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr",
             cwd=pki)  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        cwd=pki,
    )  # fmt: skip


def write_kubeconfig(path: Path, server: str, pki: Path, user: str) -> None:
    """A kubeconfig (JSON is YAML) naming the CA and USER's client certificate by path."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "aaprof-test", "cluster": {
                "server": server, "certificate-authority": str(pki / "ca.crt")}},
        ],
        "users": [
            {"name": user, "user": {
                "client-certificate": str(pki / f"{user}.crt"),
                "client-key": str(pki / f"{user}.key")}},
        ],
        "contexts": [{"name": "aaprof-test", "context": {"cluster": "aaprof-test", "user": user}}],
        "current-context": "aaprof-test",
    }  # fmt: skip
    path.write_text(json.dumps(config, indent=2) + "\n")


@dataclass
class ControlPlane:
    """A running (or stopped) control plane in DIR; its state is DIR/state.json."""

    dir: Path
    server: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def pki(self) -> Path:
        return self.dir / "pki"

    def log_path(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"

    def logs(self) -> list[Path]:
        names = [*COMPONENTS, "node-qemu"]
        found = [self.log_path(c) for c in names if self.log_path(c).exists()]
        console = self.dir / "node" / "console.log"  # the node VM's (node.py)
        return found + ([console] if console.exists() else [])

    def save(self) -> None:
        state = {"server": self.server, "ports": self.ports, "pids": self.pids}
        (self.dir / "state.json").write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> ControlPlane:
        state = json.loads((directory / "state.json").read_text())
        return cls(directory, state["server"], state["ports"], state["pids"])

    # -- starting -----------------------------------------------------------------------------

    def _spawn(self, component: str, argv: Sequence[str]) -> None:
        logfile = self.log_path(component)
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with logfile.open("ab") as out:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True,  # down kills its process group
            )  # fmt: skip
        self.pids[component] = proc.pid
        self.save()

    def start(self, kube: Path, etcd: Path) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.dir / "state.json").exists():
            raise ClusterError(f"a control plane already runs in {self.dir}: `down` it first")
        self.save()  # from here on, `down` can clean up whatever has started
        make_pki(self.pki)
        ports = self.ports
        for name in ("etcd-client", "etcd-peer", "apiserver", "controller-manager", "scheduler"):
            ports[name] = free_port()
        self.server = f"https://127.0.0.1:{ports['apiserver']}"
        write_kubeconfig(self.kubeconfig, self.server, self.pki, "admin")
        for user in ("controller-manager", "scheduler"):
            write_kubeconfig(self.dir / f"{user}.kubeconfig", self.server, self.pki, user)
        etcd_url = f"http://127.0.0.1:{ports['etcd-client']}"
        peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
        self._spawn("etcd", [
            str(etcd / "etcd"), "--name=aaprof-test", f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=aaprof-test={peer_url}",
            "--unsafe-no-fsync",  # throwaway data: no fsync, so a busy disk does not slow it
            "--log-level=warn",
        ])  # fmt: skip
        self._wait(f"{etcd_url}/health", "etcd", tls=False)
        pki = self.pki
        self._spawn("kube-apiserver", [
            str(kube / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            # a loopback address cannot be the `kubernetes` Service's endpoint: no pod here
            # needs that Service (docs/cluster.md)
            "--endpoint-reconciler-type=none",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",  # the loader DaemonSet is privileged
            # the VM node's name is the address the API server dials (tests/cluster/node.py)
            "--kubelet-preferred-address-types=Hostname,InternalIP,ExternalIP",
            f"--default-not-ready-toleration-seconds={EVICTION_TOLERATION_SECONDS}",
            f"--default-unreachable-toleration-seconds={EVICTION_TOLERATION_SECONDS}",
            "--profiling=false",
            f"--cert-dir={self.dir / 'apiserver-certs'}",
        ])  # fmt: skip
        self._wait(f"{self.server}/readyz", "kube-apiserver")
        self._spawn("kube-controller-manager", [
            str(kube / "kube-controller-manager"),
            f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['controller-manager']}",
            f"--cert-dir={self.dir / 'controller-manager-certs'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--use-service-account-credentials=true",
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
            "--leader-elect=true",
            "--profiling=false",
        ])  # fmt: skip
        self._spawn("kube-scheduler", [
            str(kube / "kube-scheduler"),
            f"--kubeconfig={self.dir / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
            f"--cert-dir={self.dir / 'scheduler-certs'}",
            "--leader-elect=true",
            "--profiling=false",
        ])  # fmt: skip
        # Their /healthz needs no credentials (the default --authorization-always-allow-paths).
        self._wait(f"https://127.0.0.1:{ports['controller-manager']}/healthz",
                   "kube-controller-manager", client=False)  # fmt: skip
        self._wait(f"https://127.0.0.1:{ports['scheduler']}/healthz", "kube-scheduler",
                   client=False)  # fmt: skip

    def _context(self, client: bool = True, verify: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        if not verify:  # the controller manager's and scheduler's self-signed serving certs
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client:
            ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def get(self, url: str, client: bool = True, verify: bool = True) -> tuple[int, str]:
        """GET URL (the API server's, with the admin's certificate); (status, body)."""
        ctx = None if url.startswith("http:") else self._context(client, verify)
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def _wait(self, url: str, component: str, tls: bool = True, client: bool = True) -> None:
        """Until URL answers 200 `ok` (etcd's /health: {"health":"true"})."""
        deadline = time.monotonic() + READY_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            pid = self.pids.get(component)
            if pid is not None and not _alive(pid):
                raise ClusterError(
                    f"{component} exited before it was ready; its log: {self.log_path(component)}"
                )
            try:
                status, body = self.get(url, client=client and tls, verify=client)
                if status == 200 and (body.strip() == "ok" or _etcd_healthy(body)):
                    log(f"{component} ready")
                    return
                last = f"{status} {body.strip()[:200]}"
            except (OSError, ssl.SSLError) as e:
                last = str(e)
            time.sleep(0.5)
        raise ClusterError(
            f"{component} not ready after {READY_TIMEOUT:.0f} s ({last}); its log: "
            f"{self.log_path(component)}"
        )

    # -- stopping -----------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM every component (its whole process group), then SIGKILL what is left."""
        for name, pid in reversed(list(self.pids.items())):  # the node's VM first, etcd last
            # the node's VM is throwaway: nothing in it needs a clean shutdown
            sig = signal.SIGKILL if name == "node" else signal.SIGTERM
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in self.pids.values()):
            time.sleep(0.1)
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for pid in self.pids.values():
            _reap(pid)


def _etcd_healthy(body: str) -> bool:
    try:
        return bool(json.loads(body).get("health") == "true")
    except (ValueError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie that is not our child is still listed; it is not running
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def up(directory: Path, node: bool = False, node_kernel_args: str = "") -> ControlPlane:
    """Build what is missing, start a control plane in DIRECTORY, return it once ready; with
    NODE, also the node VM (tests/cluster/node.py), once its Node is Ready."""
    kube = bin_dir("kubernetes")
    etcd = bin_dir("etcd")
    plane = ControlPlane(directory.resolve())
    try:
        plane.start(kube, etcd)
        if node:
            # tests/ and the clone on the path (run as a script); the virtualenv's Python:
            # the VM's Python image is made of its modules
            sys.path[:0] = [str(HERE.parent), str(ROOT)]
            from cluster import node as vmnode

            vmnode.start(plane, cmdline_extra=node_kernel_args)
    except BaseException:
        plane.stop()
        raise
    return plane


def down(directory: Path, keep_logs: bool = False) -> None:
    """Stop the control plane in DIRECTORY and remove the directory (its data, PKI and logs).

    KEEP_LOGS keeps DIRECTORY/logs (the tests' fixture does, so that a failing test's report
    names files that still exist).
    """
    directory = directory.resolve()
    if (directory / "state.json").exists():
        ControlPlane.load(directory).stop()
    if not keep_logs:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in directory.iterdir() if directory.is_dir() else ():
        if entry.name != "logs":
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.sh cluster", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down", "build"])
    parser.add_argument(
        "--node", action="store_true",
        help="also boot the qemu AppArmor VM as a node (containerd, kubelet): docs/cluster.md",
    )  # fmt: skip
    parser.add_argument(
        "--node-kernel-args", default="", metavar="ARGS",
        help="added to the node VM's kernel command line (the tests boot one with apparmor=0)",
    )  # fmt: skip
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="where its PKI, data and logs go"
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "build":
            for family in ("kubernetes", "etcd", "containerd", "cni", "crictl"):
                log(f"{family}: {bin_dir(family)}")
            return 0
        if args.action == "down":
            down(args.dir)
            log(f"stopped; removed {args.dir.resolve()}")
            return 0
        if (args.dir / "state.json").exists():  # left alone: it is not this command's to stop
            log(f"error: a control plane already runs in {args.dir.resolve()}: `down` it first")
            return 1
        plane = up(args.dir, node=args.node, node_kernel_args=args.node_kernel_args)
    except ClusterError as e:
        log(f"error: {e}")
        if args.action == "up":  # stopped, its logs kept for reading; `down` removes them
            down(args.dir, keep_logs=True)
        return 1
    kube = bin_dir("kubernetes", build=False)
    log(f"API server {plane.server}; logs in {plane.dir / 'logs'}")
    log(f"kubectl: {kube / 'kubectl'} (or put {kube} on PATH)")
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
