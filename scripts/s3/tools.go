//go:build tools

// Package tools records the command scripts/s3.sh builds from this module (SeaweedFS's `weed`), so `go mod tidy`
// keeps it.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
