// Package cni pins the CNI plugins the tests' node runs (bridge, host-local, loopback) at the
// release in go.mod; they are built with `go build tool` from the tool directives there
// (tests/cluster/build-go.sh cni), each its own program, as upstream ships them.
package cni
