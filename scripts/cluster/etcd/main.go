// Command etcd is the etcd server of the project's test control plane, built from go.etcd.io/etcd/server/v3
// (the etcd module ships its main package in a separate, unversioned module).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
