// Package crictl pins crictl, the CRI's command-line client, at the release in go.mod; it is
// built with `go build tool` from the tool directive there (tests/cluster/build-go.sh crictl).
package crictl
