// etcd for the tests' control plane: the server's own entry point, built from its module at the
// version pinned in go.mod (tests/cluster/build-go.sh builds it into a cache outside the clone).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
