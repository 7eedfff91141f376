// etcd for the test cluster: go.etcd.io/etcd/server/v3 cannot be built with
// `go install` from the module proxy (its go.mod has replaces, ignored in a
// dependency), so this module's main calls etcdmain directly.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
