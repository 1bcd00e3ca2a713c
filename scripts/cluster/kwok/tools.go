//go:build tools

// Package tools records the command scripts/cluster.sh builds from this module, so `go mod tidy` keeps it.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
