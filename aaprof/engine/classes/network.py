"""Sockets: `network FAMILY TYPE` (abi 3.0) and `unix (access) type= addr= peer=(addr=)`."""

from __future__ import annotations

from aaprof.engine.classes.mask import cond, is_word, mask_text, qualifiers, words
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.render import aare_escape

_NO_ADDR = ("none", "")


def network_rule(event: Event) -> m.NetworkRule | m.UnixRule | None:
    """The least socket rule: unix sockets by type and address, others by family and type.

    The inet rule is `network FAMILY TYPE,`: the generated profile pins `abi <abi/3.0>`, under
    which access lists and `ip=`/`port=` conditions do not compile (apparmor_parser 3.0), and
    kernels without Ubuntu's network patch mediate nothing finer. `fine_network_rule` gives
    aa-logprof's finer form, offered as an alternative.
    """
    if not is_word(event.family):
        return None
    if event.family == "unix":
        return unix_rule(event)
    sock_type = event.sock_type if is_word(event.sock_type) else None
    return m.NetworkRule(qualifiers(event), domain=event.family, type=sock_type)


def fine_network_rule(event: Event) -> m.NetworkRule | None:
    """aa-logprof's form (AppArmor 4): access, local `ip=`/`port=`, `peer=(ip= port=)`."""
    if not is_word(event.family) or event.family == "unix":
        return None
    sock_type = event.sock_type if is_word(event.sock_type) else None
    local = _endpoint(event.laddr, event.lport)
    peer = _endpoint(event.faddr, event.fport)
    return m.NetworkRule(
        qualifiers(event), words(mask_text(event)), event.family, sock_type, local, peer
    )


def _endpoint(addr: str | None, port: int | None) -> tuple[m.Cond, ...]:
    out: list[m.Cond] = []
    if addr and all(ch in "0123456789abcdefABCDEF.:" for ch in addr):
        out.append(cond("ip", addr))
    if port is not None:
        out.append(cond("port", str(port)))
    return tuple(out)


def unix_rule(event: Event) -> m.UnixRule | None:
    """`unix (access) type=T [addr=A] [peer=(addr=P)]`; None without a known access."""
    access = words(mask_text(event))
    if not access:
        return None
    conds: list[m.Cond] = []
    if is_word(event.sock_type):
        conds.append(cond("type", event.sock_type or ""))
    if event.addr not in (None, *_NO_ADDR):
        conds.append(cond("addr", aare_escape(event.addr or "")))
    peer: tuple[m.Cond, ...] = ()
    if event.peer_addr not in (None, *_NO_ADDR):
        peer = (cond("addr", aare_escape(event.peer_addr or "")),)
    return m.UnixRule(qualifiers(event), access, tuple(conds), peer)
