//go:build !cgo

package cpeer

import (
	"errors"

	"github.com/offheap/offheap/bench"
)

// Lib names the C allocator this binary links; without cgo, none.
const Lib = "none"

// Peers returns an error: the C peers need cgo (CGO_ENABLED=1 and a C
// compiler).
func Peers() ([]bench.Peer, error) { return nil, errIdentify }

// Identify returns an error: without cgo no C allocator is linked.
func Identify() (string, error) { return "", errIdentify }

var errIdentify = errors.New("cpeer: built without cgo: the C peers need CGO_ENABLED=1 and a C compiler")
