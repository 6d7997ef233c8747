"""`aaprof node check` reads the runtime's own report over the CRI: a real containerd, started
here as a process of its own (its binaries: `tests/cluster/build-go.sh containerd`), in a
throwaway root, state and socket; and the one-line messages when there is nothing to ask or the
call fails. The messages' hand-written protobuf is held to the CRI's field numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aaprof_cli import REPO, aaprof
from cluster.controlplane import ClusterError, bin_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.node import cri
from aaprof.node.host import Host
from node.fakehost import make_root, write_profiles

# generous: CI runs beside two CPU hogs; a deadline to fail on, never a time asserted
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: local
    image: x
    securityContext:
      appArmorProfile: {type: Localhost, localhostProfile: k8s-web}
  - name: default
    image: x
    securityContext:
      appArmorProfile: {type: RuntimeDefault}
  - name: none
    image: x
    securityContext:
      appArmorProfile: {type: Unconfined}
"""


# --- the messages ---


def _key(number: int, wire: int) -> bytes:
    return bytes([number << 3 | wire])


def _len(number: int, data: bytes) -> bytes:
    assert len(data) < 128
    return _key(number, 2) + bytes([len(data)]) + data


def _condition(kind: str, status: bool, reason: str = "", message: str = "") -> bytes:
    body = _len(1, kind.encode()) + _key(2, 0) + bytes([int(status)])
    if reason:
        body += _len(3, reason.encode())
    if message:
        body += _len(4, message.encode())
    return _len(1, body)


def test_requests_are_the_cris_bytes() -> None:
    assert cri.encode_status_request(True) == b"\x08\x01"
    assert cri.encode_status_request(False) == b""
    assert cri.encode_version_request() == b"\x0a\x02v1"


def test_status_answer_is_decoded_and_unknown_fields_skipped() -> None:
    status = _condition("RuntimeReady", True) + _condition(
        "NetworkReady", False, "NetworkPluginNotReady", "no cni"
    )
    data = (
        _len(1, status)
        + _len(2, _len(1, b"config") + _len(2, b'{"disableApparmor":true}'))
        + _len(2, _len(1, b"golang") + _len(2, b'"go1.26"'))
        + _len(3, _len(1, b"runc"))  # a runtime handler: skipped
        + _key(9, 5) + b"\x01\x02\x03\x04"  # a fixed32 from a newer CRI: skipped
        + _key(10, 1) + bytes(8)  # a fixed64: skipped
        + _key(11, 0) + b"\x96\x01"  # a varint: skipped
    )  # fmt: skip
    answer = cri.decode_status(data)
    assert answer.conditions == (
        cri.Condition("RuntimeReady", True),
        cri.Condition("NetworkReady", False, "NetworkPluginNotReady", "no cni"),
    )
    assert answer.info == {"config": '{"disableApparmor":true}', "golang": '"go1.26"'}
    version = _len(1, b"0.1.0") + _len(2, b"containerd") + _len(3, b"v2.4.2") + _len(4, b"v1")
    assert cri.decode_version(version) == {
        "version": "0.1.0",
        "runtime_name": "containerd",
        "runtime_version": "v2.4.2",
        "runtime_api_version": "v1",
    }


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x0a\x05ab", "a field longer than its message"),
        (b"\x08\xff", "a truncated varint"),
        (b"\x0b", "wire type 3 (field 1) is not one this reader knows"),
        (b"\x00\x01", "a field numbered 0"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "a varint longer than 64 bits"),
        (b"\x08\x01", "status: a number where a message belongs"),
        (_len(1, _len(1, _len(1, b"\xff\xfe"))), "condition type: text that is not UTF-8"),
        (_len(2, _len(2, b"\xc3")), "info['']: text that is not UTF-8"),
        (b"\x4d\x01\x02", "a truncated fixed-width field"),
    ],
)
def test_malformed_status_is_one_line_error(data: bytes, why: str) -> None:
    with pytest.raises(AaprofError) as caught:
        cri.decode_status(data)
    assert str(caught.value) == f"the runtime's StatusResponse is malformed: {why}"


def test_malformed_version_is_one_line_error() -> None:
    with pytest.raises(AaprofError, match=r"VersionResponse is malformed: runtime_name: a number"):
        cri.decode_version(b"\x10\x01")


@settings(max_examples=300, deadline=None)  # no time limit: the machine is busy
@given(st.binary(max_size=200))
def test_decoders_raise_nothing_but_aaprof_errors(data: bytes) -> None:
    for decode in (cri.decode_status, cri.decode_version):
        try:
            decode(data)
        except AaprofError as exc:
            assert "\n" not in str(exc)


# --- a real containerd ---


def _containerd_bin() -> Path:
    try:
        return bin_dir("containerd", build=False)
    except ClusterError as exc:
        missing = str(exc)  # says: run `tests/cluster/build-go.sh containerd`
    pytest.fail(missing)


@contextmanager
def running_containerd(disable_apparmor: bool) -> Iterator[Path]:
    """A containerd of its own (root, state, socket, plugins' directories under a temp dir; no
    NRI socket in /var/run), in its own session; yields its socket, stopped and removed after."""
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    binary = _containerd_bin() / "containerd"
    # a short path: a unix socket's path must fit in 108 bytes
    top = Path(tempfile.mkdtemp(prefix="aaprof-ctrd-", dir="/tmp"))
    sock = top / "c.sock"
    config = top / "config.toml"
    config.write_text(
        f"""\
version = 3
root = "{top}/root"
state = "{top}/state"
disabled_plugins = ["io.containerd.nri.v1.nri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{top}/opt"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "native"
[plugins."io.containerd.cri.v1.runtime"]
  disable_apparmor = {str(disable_apparmor).lower()}
"""
    )
    log = top / "containerd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(proc, sock, log)
        yield sock
    finally:
        _stop(proc)
        shutil.rmtree(top, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[bytes], sock: Path, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    error = "its socket did not appear"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"containerd exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        if sock.exists():
            try:
                cri.read_report(sock, timeout=10)
                return
            except AaprofError as exc:  # the CRI plugin may still be starting
                error = str(exc)
        time.sleep(0.2)
    pytest.fail(f"containerd did not answer over the CRI: {error}\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _check(*args: str) -> tuple[int, dict[str, object], dict[str, dict[str, str]]]:
    done = aaprof("node", "check", "--format", "json", *args)
    assert done.stderr == "", done.stderr
    report = json.loads(done.stdout)
    findings = {f["check"]: f for f in report["findings"]}
    return done.returncode, report, findings


def _host_lets_containerd_apply() -> bool:
    """containerd's own test of this host (pkg/apparmor), for the host the test runs on."""
    host = Host()
    return bool(host.apparmor_enabled()) and host.path("sbin/apparmor_parser").exists()


def test_containerd_reports_apparmor_enabled_in_its_config(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    with running_containerd(disable_apparmor=False) as sock:
        code, report, findings = _check("--cri-socket", str(sock), "--pod", str(pod))
        text = aaprof("node", "check", "--cri-socket", str(sock)).stdout
    runtime = report["runtime"]
    assert isinstance(runtime, dict)
    assert (runtime["name"], runtime["version"], runtime["api_version"]) == (
        "containerd",
        "v2.4.2",
        "v1",
    )
    assert runtime["socket"] == str(sock)
    assert runtime["apparmor"] == {
        "disable_apparmor": False,
        "default_profile": "cri-containerd.apparmor.d",
    }
    assert "config" in runtime["info_keys"]
    conditions = {c["type"]: c for c in runtime["conditions"]}
    assert conditions["RuntimeReady"]["status"] is True
    # no CNI configuration in this containerd: the network is not ready, and it says so
    assert conditions["NetworkReady"] == {
        "type": "NetworkReady",
        "status": False,
        "reason": "NetworkPluginNotReady",
        "message": conditions["NetworkReady"]["message"],
    }
    assert findings["cri"]["level"] == "ok"
    assert findings["cri"]["detail"].startswith(f"containerd v2.4.2 (CRI v1) at {sock}: ")
    assert "RuntimeReady, NetworkReady=false (NetworkPluginNotReady)" in findings["cri"]["detail"]
    apparmor = findings["runtime apparmor"]
    if _host_lets_containerd_apply():
        assert apparmor["level"] == "ok"
        assert apparmor["detail"].startswith("containerd applies AppArmor profiles")
    else:  # this project's machine: a kernel without AppArmor; the kernel's finding says so
        assert apparmor["level"] == "problem"
        assert apparmor["detail"] == (
            "disableApparmor: false, but the kernel has AppArmor off (above): containerd "
            "applies no profile (and the kubelet refuses a pod that names one)"
        )
        assert findings["kernel"]["level"] == "problem"
        assert code == 1
    # the kernel's facts and the runtime's, side by side, in the text too
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines[:-1] if ":" in line][-2:] == [
        "ok       cri",
        f"{apparmor['level']:<8} runtime apparmor",
    ]
    assert lines[0].startswith(f"{findings['kernel']['level']:<8} kernel: ")


def test_containerd_with_apparmor_disabled_refuses_pods_that_name_a_profile(
    tmp_path: Path,
) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    with running_containerd(disable_apparmor=True) as sock:
        code, report, findings = _check("--cri-socket", str(sock), "--pod", str(pod))
    runtime = report["runtime"]
    assert isinstance(runtime, dict)
    assert runtime["apparmor"] == {
        "disable_apparmor": True,
        "default_profile": "cri-containerd.apparmor.d",
    }
    reason = "AppArmor is disabled in its configuration (disableApparmor: true)"
    assert findings["runtime apparmor"] == {
        "check": "runtime apparmor",
        "level": "problem",
        "detail": f"{reason}: containerd confines no container, and refuses to create one whose "
        "pod names a Localhost or RuntimeDefault profile ('apparmor is not supported')",
    }
    assert code == 1
    refused = (
        ", but containerd will refuse to create the container ('apparmor is not supported'): "
        + reason
    )
    local = findings[f"pod {pod}: Pod/web container local"]
    assert local["level"] == "problem"
    assert local["detail"].endswith(refused)
    default = findings[f"pod {pod}: Pod/web container default"]
    assert (default["level"], default["detail"]) == (
        "problem",
        f"RuntimeDefault: the runtime's own profile{refused}",
    )
    unconfined = findings[f"pod {pod}: Pod/web container none"]
    assert unconfined["level"] == "warning"  # runs, unconfined, as without the runtime's report


def test_containerds_report_beside_a_kernel_with_apparmor(tmp_path: Path) -> None:
    """The real containerd's report, read beside a fixture kernel that has AppArmor (--root):
    what the check makes of the two together where the kernel's side is not this machine's.
    containerd also wants /sbin/apparmor_parser (its pkg/apparmor): without it, it applies no
    profile and refuses one a pod names, though the kubelet (which looks at the kernel only)
    admits the pod."""
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    root = make_root(tmp_path / "root", {"k8s-web": "enforce"})
    with running_containerd(disable_apparmor=False) as sock:
        args = ("--root", str(root), "--cri-socket", str(sock), "--pod", str(pod))
        code, _report, without_parser = _check(*args)
        (root / "sbin").mkdir()
        (root / "sbin/apparmor_parser").write_text("")
        code_with, _report, with_parser = _check(*args)
        write_profiles(root, {"k8s-web": "enforce", "cri-containerd.apparmor.d": "enforce"})
        _code, _report, default_loaded = _check(*args)
    reason = "there is no /sbin/apparmor_parser, which containerd takes for no AppArmor"
    assert without_parser["runtime apparmor"]["level"] == "problem"
    assert without_parser["runtime apparmor"]["detail"].startswith(f"{reason}: containerd ")
    local = without_parser[f"pod {pod}: Pod/web container local"]
    assert (local["level"], local["detail"]) == (
        "problem",
        "profile 'k8s-web' loaded (enforce), but containerd will refuse to create the container "
        f"('apparmor is not supported'): {reason}",
    )
    assert code == 1
    assert with_parser["runtime apparmor"] == {
        "check": "runtime apparmor",
        "level": "ok",
        "detail": "containerd applies AppArmor profiles (disableApparmor: false; RuntimeDefault "
        "is 'cri-containerd.apparmor.d', not loaded yet: the runtime loads it when a container "
        "first asks for it)",
    }
    assert with_parser[f"pod {pod}: Pod/web container local"]["level"] == "ok"
    assert with_parser[f"pod {pod}: Pod/web container default"]["level"] == "ok"
    assert code_with == 0
    assert default_loaded["runtime apparmor"]["detail"] == (
        "containerd applies AppArmor profiles (disableApparmor: false; RuntimeDefault is "
        "'cri-containerd.apparmor.d', loaded (enforce))"
    )


# --- nothing to ask, or no answer: one line, never a traceback, never a hang ---


@contextmanager
def silent_socket(path: Path) -> Iterator[Path]:
    """A unix socket that accepts connections and never answers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_a_socket_that_never_answers_times_out_in_one_line(tmp_path: Path) -> None:
    with silent_socket(tmp_path / "s.sock") as sock:
        code, report, findings = _check("--cri-socket", str(sock), "--cri-timeout", "1")
    assert findings["cri"] == {
        "check": "cri",
        "level": "problem",
        "detail": f"{sock}: Version got no answer within 1 s",
    }
    assert report["runtime"] is None
    assert code == 1


def test_missing_or_wrong_socket_is_one_line(tmp_path: Path) -> None:
    code, _report, findings = _check("--cri-socket", str(tmp_path / "none.sock"))
    assert findings["cri"]["detail"] == (
        f"no CRI socket at {tmp_path / 'none.sock'}: the runtime's report is not read"
    )
    assert (findings["cri"]["level"], code) == ("problem", 1)
    (tmp_path / "file.sock").write_text("")
    _code, _report, findings = _check("--cri-socket", str(tmp_path / "file.sock"))
    assert findings["cri"]["detail"] == f"{tmp_path / 'file.sock'} is not a socket"


def test_default_sockets_are_looked_for_below_root(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", {"k8s-a": "enforce"})
    code, _report, findings = _check("--root", str(root))
    assert findings["cri"] == {
        "check": "cri",
        "level": "warning",  # not asked for: a node without a runtime is checked all the same
        "detail": (
            f"no CRI socket at {root}/run/containerd/containerd.sock, "
            f"{root}/run/crio/crio.sock: the runtime's report is not read"
        ),
    }
    assert code == 0
    with silent_socket(root / "run/crio/crio.sock") as sock:  # the second candidate
        _code, _report, findings = _check("--root", str(root), "--cri-timeout", "1")
    assert findings["cri"]["detail"] == f"{sock}: Version got no answer within 1 s"
    assert findings["cri"]["level"] == "warning"
    _code, report, findings = _check("--root", str(root), "--no-cri")
    assert "cri" not in findings
    assert report["runtime"] is None


def test_without_grpcio_the_check_says_how_to_get_it(tmp_path: Path) -> None:
    with silent_socket(tmp_path / "s.sock") as sock:
        done = subprocess.run(
            [sys.executable, "-c",
             "import sys; sys.modules['grpc'] = None\n"
             "from aaprof.cli.main import main; main()",
             "node", "check", "--cri-socket", str(sock)],
            capture_output=True, text=True, check=False, cwd=REPO,
        )  # fmt: skip
    assert done.stderr == ""
    assert (
        "problem  cri: grpcio is not installed: pip install 'aaprof[cri]' to read the "
        "runtime's report"
    ) in done.stdout.splitlines()


@pytest.mark.parametrize(
    ("name", "info", "disabled", "default"),
    [
        ("containerd", {"config": '{"disableApparmor": true}'}, True, "cri-containerd.apparmor.d"),
        ("containerd", {"config": '{"enableSelinux": false}'}, None, "cri-containerd.apparmor.d"),
        ("containerd", {"config": "not json"}, None, "cri-containerd.apparmor.d"),
        ("containerd", {"config": '{"disableApparmor": "yes"}'}, None, "cri-containerd.apparmor.d"),
        ("cri-o", {}, None, None),
        ("cri-o", {"config": '{"disableApparmor": false}'}, False, None),
    ],
)
def test_report_reads_only_what_the_runtime_said(
    name: str, info: dict[str, str], disabled: bool | None, default: str | None
) -> None:
    version = {"runtime_name": name, "runtime_version": "1.0", "runtime_api_version": "v1"}
    report = cri.runtime_report("/s.sock", version, cri.StatusAnswer((), info))
    assert (report.disable_apparmor, report.default_profile) == (disabled, default)
    assert report.info_keys == tuple(sorted(info))
