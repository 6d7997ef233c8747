//go:build tools

// containerd for the tests' Kubernetes node and `aaprof node check`'s CRI test: the three
// programs, containerd, ctr and containerd-shim-runc-v2, are upstream's own mains at the version
// pinned in go.mod. This file only records them as requirements (the build tag keeps it out of
// every build); tests/cluster/build-go.sh builds them as three binaries into a cache outside the
// clone.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
