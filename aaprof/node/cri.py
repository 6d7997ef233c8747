"""The container runtime's own report, over the CRI: what it says of AppArmor.

The kubelet talks to the runtime over gRPC on a unix socket (the CRI, `runtime.v1`). Two calls
tell what the runtime is and how it handles AppArmor:

- `RuntimeService/Version`: its name and version (`containerd`, `v2.4.2`);
- `RuntimeService/Status` with `verbose: true`: its conditions (`RuntimeReady`,
  `NetworkReady`, ...) and an `info` map of JSON strings. containerd puts its CRI configuration
  in `info["config"]`; its `disableApparmor` key is the `disable_apparmor` setting
  (containerd's `internal/cri/config`), under which containerd applies no profile and refuses
  a pod that names one. containerd's RuntimeDefault profile is not in the configuration: its
  name is fixed, `cri-containerd.apparmor.d` (`internal/cri/sputil`), and containerd loads it
  with `apparmor_parser` when the first container asks for it.

The messages are encoded and decoded here by hand (`encode_*`, `decode_*`: a few fields of five
messages), not by generated stubs; gRPC itself is grpcio's generic unary call, an optional
dependency (`pip install 'aaprof[cri]'`, docs/node.md). Nothing the runtime answers is trusted
as text: the CLI escapes it before printing.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError

SERVICE = "/runtime.v1.RuntimeService"
CRI_API_VERSION = "v1"
# where the runtimes listen on a node: containerd first, then CRI-O (the kubelet's own order of
# preference is the node's config; these are the runtimes' defaults)
DEFAULT_SOCKETS = ("/run/containerd/containerd.sock", "/run/crio/crio.sock")
DEFAULT_TIMEOUT = 10.0
# containerd's RuntimeDefault AppArmor profile: a fixed name, not a setting
CONTAINERD_DEFAULT_PROFILE = "cri-containerd.apparmor.d"
# the largest answer read: a verbose Status holds the runtime's whole configuration
MAX_MESSAGE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Condition:
    """One of the runtime's conditions (`RuntimeReady`, `NetworkReady`, ...)."""

    type: str
    status: bool
    reason: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    """What the runtime said over the CRI: who it is, its conditions, and its AppArmor settings.

    `disable_apparmor` is None when the runtime does not report it (a runtime other than
    containerd, or a containerd whose `info` has no `config`); `default_profile` is the
    RuntimeDefault profile's name where it is known.
    """

    socket: str
    name: str
    version: str
    api_version: str
    conditions: tuple[Condition, ...] = ()
    disable_apparmor: bool | None = None
    default_profile: str | None = None
    info_keys: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "socket": self.socket,
            "name": self.name,
            "version": self.version,
            "api_version": self.api_version,
            "conditions": [c.to_dict() for c in self.conditions],
            "apparmor": {
                "disable_apparmor": self.disable_apparmor,
                "default_profile": self.default_profile,
            },
            "info_keys": list(self.info_keys),
        }


def find_socket(candidates: tuple[Path, ...]) -> Path | None:
    """The first candidate that exists (of any type: a file that is no socket is reported)."""
    for path in candidates:
        if path.exists() or path.is_symlink():
            return path
    return None


def read_report(socket: Path, timeout: float = DEFAULT_TIMEOUT) -> RuntimeReport:
    """Ask the runtime listening on `socket` for its version and verbose status.

    Raises:
        AaprofError: one line saying why not: no socket there, grpcio missing, the call failed
            or timed out, or an answer that is not the CRI's.
    """
    try:
        mode = socket.stat().st_mode
    except OSError as exc:
        raise AaprofError(f"{socket}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise AaprofError(f"{socket} is not a socket")
    version = decode_version(_call(socket, "Version", encode_version_request(), timeout))
    status = decode_status(_call(socket, "Status", encode_status_request(True), timeout))
    return runtime_report(str(socket), version, status)


def runtime_report(socket: str, version: dict[str, str], status: StatusAnswer) -> RuntimeReport:
    """The report from the two answers: `disableApparmor` from containerd's `info["config"]`
    (None when absent or not JSON), its RuntimeDefault profile's fixed name for containerd."""
    name = version.get("runtime_name", "")
    disabled: bool | None = None
    config_text = status.info.get("config")
    if config_text is not None:
        try:
            config = json.loads(config_text)
        except ValueError:
            config = None
        if isinstance(config, dict) and isinstance(config.get("disableApparmor"), bool):
            disabled = config["disableApparmor"]
    default = CONTAINERD_DEFAULT_PROFILE if name == "containerd" else None
    return RuntimeReport(
        socket=socket,
        name=name,
        version=version.get("runtime_version", ""),
        api_version=version.get("runtime_api_version", ""),
        conditions=status.conditions,
        disable_apparmor=disabled,
        default_profile=default,
        info_keys=tuple(sorted(status.info)),
    )


def _call(socket: Path, method: str, request: bytes, timeout: float) -> bytes:
    """One unary gRPC call on the unix socket, its answer's bytes (no stubs: raw bytes in/out)."""
    try:
        import grpc
    except ImportError:
        raise AaprofError(
            "grpcio is not installed: pip install 'aaprof[cri]' to read the runtime's report"
        ) from None
    target = f"unix:{socket.absolute()}"
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.enable_retries", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(f"{SERVICE}/{method}")
        try:
            answer = call(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise AaprofError(
                    f"{socket}: {method} got no answer within {timeout:g} s"
                ) from None
            label = code.name if code is not None else "error"
            first = (details or "").splitlines()[0] if details else ""
            raise AaprofError(f"{socket}: {method} failed: {label}: {first}") from None
    if not isinstance(answer, bytes):
        raise AaprofError(f"{socket}: {method}: an answer that is not bytes")
    return answer


# --- protobuf, by hand: varints and length-delimited fields are all these messages use ---

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(data)) + data


def encode_status_request(verbose: bool) -> bytes:
    """`StatusRequest{verbose = 1}`."""
    return _varint(1 << 3 | _VARINT) + _varint(1) if verbose else b""


def encode_version_request(version: str = CRI_API_VERSION) -> bytes:
    """`VersionRequest{version = 1}`: the kubelet's CRI API version."""
    return _field_bytes(1, version.encode())


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise AaprofError("a truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise AaprofError("a varint longer than 64 bits")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """A message's fields in order: (number, wire type, value: an int, or bytes for LEN).

    Raises:
        AaprofError: the bytes are not a protobuf message.
    """
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise AaprofError("a field numbered 0")
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
            yield number, wire, value
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if size > len(data) - pos:
                raise AaprofError("a field longer than its message")
            yield number, wire, data[pos : pos + size]
            pos += size
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if width > len(data) - pos:
                raise AaprofError("a truncated fixed-width field")
            yield number, wire, int.from_bytes(data[pos : pos + width], "little")
            pos += width
        else:
            raise AaprofError(f"wire type {wire} (field {number}) is not one this reader knows")


def _text(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise AaprofError(f"{what}: a number where text belongs")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise AaprofError(f"{what}: text that is not UTF-8") from None


def _message(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise AaprofError(f"{what}: a number where a message belongs")
    return value


def _flag(value: int | bytes, what: str) -> bool:
    if isinstance(value, bytes):
        raise AaprofError(f"{what}: bytes where a bool belongs")
    return value != 0


_VERSION_FIELDS = {1: "version", 2: "runtime_name", 3: "runtime_version", 4: "runtime_api_version"}


def decode_version(data: bytes) -> dict[str, str]:
    """`VersionResponse` → {version, runtime_name, runtime_version, runtime_api_version}.

    Raises:
        AaprofError: not a VersionResponse.
    """
    out: dict[str, str] = {}
    try:
        for number, _wire, value in fields(data):
            if number in _VERSION_FIELDS:
                out[_VERSION_FIELDS[number]] = _text(value, _VERSION_FIELDS[number])
    except AaprofError as exc:
        raise AaprofError(f"the runtime's VersionResponse is malformed: {exc}") from None
    return out


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """`StatusResponse`'s conditions (`status.conditions`) and its `info` map."""

    conditions: tuple[Condition, ...]
    info: dict[str, str]


def decode_status(data: bytes) -> StatusAnswer:
    """`StatusResponse` → its conditions and info (handlers and features are skipped).

    Raises:
        AaprofError: not a StatusResponse.
    """
    conditions: list[Condition] = []
    info: dict[str, str] = {}
    try:
        for number, _wire, value in fields(data):
            if number == 1:  # RuntimeStatus status
                for n, _w, v in fields(_message(value, "status")):
                    if n == 1:  # repeated RuntimeCondition conditions
                        conditions.append(_condition(_message(v, "condition")))
            elif number == 2:  # map<string, string> info: entries {key = 1, value = 2}
                key = text = ""
                for n, _w, v in fields(_message(value, "info")):
                    if n == 1:
                        key = _text(v, "info key")
                    elif n == 2:
                        text = _text(v, f"info[{key!r}]")
                info[key] = text
    except AaprofError as exc:
        raise AaprofError(f"the runtime's StatusResponse is malformed: {exc}") from None
    return StatusAnswer(tuple(conditions), info)


def _condition(data: bytes) -> Condition:
    kind = reason = message = ""
    status = False
    for number, _wire, value in fields(data):
        if number == 1:
            kind = _text(value, "condition type")
        elif number == 2:
            status = _flag(value, "condition status")
        elif number == 3:
            reason = _text(value, "condition reason")
        elif number == 4:
            message = _text(value, "condition message")
    return Condition(kind, status, reason, message)
