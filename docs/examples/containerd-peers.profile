# The peer rules of containerd's default profile (contrib/apparmor/template.go), with the
# form aaprof learns: `aaprof profile check` warns on the three bare peers (lines 7 to 9)
abi <abi/3.0>,

profile cri-containerd.apparmor.d flags=(attach_disconnected,mediate_deleted) {
  signal (receive) peer=unconfined,
  signal (receive) peer=runc,
  signal (receive) peer=cri-containerd.apparmor.d,
  ptrace (trace,read,tracedby,readby) peer=cri-containerd.apparmor.d,
  signal (receive) peer="{,**//&}cri-containerd.apparmor.d{,//&**}",
  deny ptrace (trace) peer=other,
}
