"""A real Kubernetes node in the qemu AppArmor VM, registered with a control plane on the host.

`./dev.sh cluster up --node` and the tests' `node` fixture (tests/cluster/test_node.py) both
call `start(plane)`: it boots the test VM's kernel (tests/vm/harness, node mode) with
containerd, runc (Debian's, in the harness's initramfs), the CNI plugins and the kubelet, built
from their pinned Go modules (tests/cluster/build-go.sh), and waits until the Node is Ready.
docs/cluster.md ("A node") says why each choice is made; in short:

- the guest reaches the API server at 10.0.2.2 (the host's loopback through qemu's user-mode
  network; the API server's certificate names that IP);
- the API server reaches the kubelet through a qemu `hostfwd` from 127.0.0.1:PORT to the guest's
  PORT, the kubelet's own port: the node's name is `127.0.0.1` (`--hostname-override`), its
  Hostname address, which the API server dials first (`--kubelet-preferred-address-types`);
  the kubelet's serving certificate, signed by the cluster's CA, names 127.0.0.1 (the API
  server verifies it). Its InternalIP is the guest's 10.0.2.15 (a loopback --node-ip is
  refused);
- no registry: the pause image and the test image are busybox-static images written by
  tests/cluster/ociimage.py and imported with `ctr -n k8s.io images import`;
- slow-node settings: NODE_STATUS / LEASE below, and the control plane's (controlplane.py).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: vm.harness (when run as controlplane.py)

from cluster import controlplane, ociimage  # noqa: E402, I001
from vm.harness import build_images  # noqa: E402
from vm.harness import node as vmnode  # noqa: E402

NAME = "127.0.0.1"  # the node's name and Hostname address: what the API server dials
PAUSE_IMAGE = "localhost/aaprof-test/pause:1"
TEST_IMAGE = "localhost/aaprof-test/busybox:1"
# the kubelet's slow-node settings: status posted every 20 s (reported at least every minute),
# a 120 s lease renewed every 30 s (a quarter of it); the controller manager's grace is 240 s
NODE_STATUS_UPDATE = "20s"
NODE_STATUS_REPORT = "1m0s"
LEASE_SECONDS = 120
READY_TIMEOUT = 900.0  # boot to Ready under tcg beside two CPU hogs; kvm takes far less
GUEST = "/run/in"  # the node's input disk, read-only


@dataclass
class Node:
    """A booted node: the VM, and how long it took from boot to Ready."""

    vm: vmnode.NodeVM
    kubelet_port: int
    ready_seconds: float = 0.0

    def sh(self, script: str, timeout: float = 300.0) -> tuple[int, str]:
        return self.vm.sh(script, timeout)

    def check(self, script: str, timeout: float = 300.0) -> str:
        return self.vm.check(script, timeout)


def _kubeconfig(server: str, pki: Path) -> str:
    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "aaprof-test", "cluster": {
            "server": server, "certificate-authority-data": data("ca.crt")}}],
        "users": [{"name": "kubelet", "user": {
            "client-certificate-data": data("kubelet.crt"),
            "client-key-data": data("kubelet.key")}}],
        "contexts": [{"name": "n", "context": {"cluster": "aaprof-test", "user": "kubelet"}}],
        "current-context": "n",
    }  # fmt: skip
    return json.dumps(config, indent=2)


def kubelet_config(port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "port": port,  # forwarded from the host's 127.0.0.1:PORT
        "readOnlyPort": 0,
        "tlsCertFile": f"{GUEST}/node/pki/kubelet-serving.crt",
        "tlsPrivateKeyFile": f"{GUEST}/node/pki/kubelet-serving.key",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": f"{GUEST}/node/pki/ca.crt"},
        },
        # only the API server's client certificate (system:masters) reaches the port
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",  # no systemd in the guest
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        "failSwapOn": False,
        "resolvConf": "",  # no cluster DNS, no resolver in the guest
        "nodeStatusUpdateFrequency": NODE_STATUS_UPDATE,
        "nodeStatusReportFrequency": NODE_STATUS_REPORT,
        "nodeLeaseDurationSeconds": LEASE_SECONDS,
        "runtimeRequestTimeout": "10m0s",
        # a small scratch disk and little memory: never evict for them
        "evictionHard": {
            "memory.available": "1Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
    }


CONTAINERD_CONFIG = f"""\
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{PAUSE_IMAGE}"
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/opt/cni/bin"]
  conf_dir = "/etc/cni/net.d"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = false
  # the guest runs from its initramfs (rootfs), where pivot_root(2) fails with EINVAL
  NoPivotRoot = true
"""

CNI_CONFIG = json.dumps({
    "cniVersion": "1.0.0", "name": "aaprof",
    "plugins": [{
        "type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]},
    }],
}, indent=2)  # fmt: skip

# The guest's run.sh: never returns (the VM powers off when it does).
SCRIPT = rf"""#!/bin/sh
exec > /dev/console 2>&1
N={GUEST}/node
export PATH=$N/bin:$PATH
{vmnode.SHELL_SERVER}
for m in $(cat {GUEST}/modules/order); do
    insmod {GUEST}/modules/$m || echo "node: insmod $m failed"
done
ip link set lo up
ip link set eth0 up
ip addr add {vmnode.GUEST_IP}/24 dev eth0
ip route add default via {vmnode.HOST_IP}
hostname aaprof-node
echo "127.0.0.1 localhost" > /etc/hosts
echo "{vmnode.GUEST_IP} aaprof-node" >> /etc/hosts
: > /etc/resolv.conf
mkdir -p /var/lib /etc/cni/net.d /opt/cni/bin /var/log/pods /etc/containerd
disk() {{
    for d in /sys/block/vd*; do
        [ "$(cat $d/serial 2>/dev/null)" = "$1" ] && echo /dev/${{d##*/}} && return
    done
}}
mount -t ext4 "$(disk aaprof-scratch)" /var/lib || echo "node: no scratch disk"
mount --make-rshared / 2>/dev/null
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done
# containerd's AppArmor support check wants the parser at /sbin (a merged-/usr system has it)
[ -e /sbin/apparmor_parser ] || ln -s /usr/sbin/apparmor_parser /sbin/apparmor_parser
for p in $N/cni/*; do ln -sf $p /opt/cni/bin/; done
cp $N/10-aaprof.conflist /etc/cni/net.d/
echo "node: starting containerd"
containerd --config $N/containerd.toml > /var/log/containerd.log 2>&1 &
i=0
while [ ! -S /run/containerd/containerd.sock ] && [ $i -lt 600 ]; do sleep 1; i=$((i+1)); done
for t in $N/images/*.tar; do
    ctr -n k8s.io images import "$t" >> /var/log/images.log 2>&1 || echo "node: import $t failed"
done
echo "node: starting the kubelet"
kubelet --config=$N/kubelet.json --kubeconfig=$N/kubelet.kubeconfig \
    --hostname-override={NAME} --node-ip={vmnode.GUEST_IP} --v=2 > /var/log/kubelet.log 2>&1 &
echo "node: up"
while :; do sleep 3600; done
"""


def _files(plane: controlplane.ControlPlane, port: int) -> dict[str, Path | bytes]:
    pki = plane.pki
    controlplane.sign_cert(
        pki, "kubelet", f"/O=system:nodes/CN=system:node:{NAME}", "extendedKeyUsage=clientAuth"
    )
    controlplane.sign_cert(
        pki, "kubelet-serving", f"/O=system:nodes/CN=system:node:{NAME}",
        f"subjectAltName=IP:{NAME},IP:{vmnode.GUEST_IP},DNS:aaprof-node\n"
        "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    server = f"https://{vmnode.HOST_IP}:{plane.ports['apiserver']}"
    files: dict[str, Path | bytes] = {
        "node/kubelet.kubeconfig": _kubeconfig(server, pki).encode(),
        "node/kubelet.json": json.dumps(kubelet_config(port), indent=2).encode(),
        "node/containerd.toml": CONTAINERD_CONFIG.encode(),
        "node/10-aaprof.conflist": CNI_CONFIG.encode(),
        "node/pki/ca.crt": pki / "ca.crt",
        "node/pki/kubelet-serving.crt": pki / "kubelet-serving.crt",
        "node/pki/kubelet-serving.key": pki / "kubelet-serving.key",
    }
    kube = controlplane.bin_dir("kubernetes")
    files["node/bin/kube"] = kube / "kube"
    for name in ("containerd", "ctr", "containerd-shim-runc-v2"):
        files[f"node/bin/{name}"] = controlplane.bin_dir("containerd") / name
    files["node/bin/crictl"] = controlplane.bin_dir("crictl") / "crictl"
    for name in ("bridge", "host-local", "loopback"):
        files[f"node/cni/{name}"] = controlplane.bin_dir("cni") / name
    layer = ociimage.busybox_layer()
    files["node/images/pause.tar"] = ociimage.oci_archive(
        PAUSE_IMAGE, layer, ["/bin/sleep", "2147483647"], []
    )
    files["node/images/busybox.tar"] = ociimage.oci_archive(TEST_IMAGE, layer, [], ["sh"])
    files["node/crictl.yaml"] = (
        b"runtime-endpoint: unix:///run/containerd/containerd.sock\n"
        b"image-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 60\n"
    )
    return files


def start(
    plane: controlplane.ControlPlane, cmdline_extra: str = "", kvm: bool | None = None
) -> Node:
    """Boot the node VM for PLANE and wait until its Node is Ready. CMDLINE_EXTRA is added to
    the guest kernel's command line (`apparmor=0`); KVM: None uses kvm when usable."""
    images = build_images(vm_cache())
    port = controlplane.free_port()
    spec = vmnode.NodeSpec(
        script=SCRIPT,
        files=_files(plane, port),
        links={"node/bin/kubelet": "kube"},
        forwards=(port,),
        kvm=kvm,
        cmdline_extra=cmdline_extra,
    )
    work = plane.dir / "node"
    start_time = time.monotonic()
    vm = vmnode.boot_node(images, spec, work, plane.log_path("node-qemu"))
    plane.pids["node"] = vm.pid
    plane.ports["kubelet"] = port
    plane.ports["node-shell"] = vm.shell_port
    plane.save()
    node = Node(vm, port)
    controlplane.log(f"node: booting ({vm.accel}); console {vm.console}")
    vmnode.wait_shell(vm, READY_TIMEOUT)
    node.check(f"ln -sf {GUEST}/node/crictl.yaml /etc/crictl.yaml")
    deadline = start_time + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if not vm.alive():
            raise controlplane.ClusterError(f"the node VM exited; its console: {vm.console}")
        status, body = plane.get(f"{plane.server}/api/v1/nodes/{NAME}")
        if status == 200:
            conditions = json.loads(body).get("status", {}).get("conditions", [])
            ready = [c for c in conditions if c.get("type") == "Ready"]
            last = json.dumps(ready)
            if ready and ready[0].get("status") == "True":
                node.ready_seconds = time.monotonic() - start_time
                seconds = node.ready_seconds
                controlplane.log(f"node: {NAME} Ready after {seconds:.0f} s ({vm.accel})")
                return node
        else:
            last = f"{status}"
        time.sleep(2)
    _, logs = vm.sh("tail -n 40 /var/log/containerd.log; tail -n 60 /var/log/kubelet.log")
    raise controlplane.ClusterError(
        f"the node was not Ready within {READY_TIMEOUT:.0f} s ({last}); its console: "
        f"{vm.console}\n{logs}"
    )


def attach(plane: controlplane.ControlPlane) -> Node:
    """The node of a running control plane that was started with one."""
    vm = vmnode.NodeVM(
        plane.pids["node"], plane.ports["node-shell"], plane.dir / "node" / "console.log", ""
    )
    return Node(vm, plane.ports["kubelet"])


def vm_cache() -> Path:
    """The VM images' cache, as the VM tests' fixture has it (tests/vm/conftest.py)."""
    return HERE.parent.parent / ".cache" / "vm"
