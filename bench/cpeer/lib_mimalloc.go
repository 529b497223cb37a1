//go:build cgo && mimalloc && !jemalloc

package cpeer

/*
#cgo LDFLAGS: -lmimalloc
#cgo CFLAGS: -DCPEER_MIMALLOC
#include <stdbool.h>
#include <stdlib.h>

// mimalloc's API, declared here so only the library is needed.
int mi_version(void);
bool mi_is_in_heap_region(const void *p);

// cpeer_owns_malloc reports whether mimalloc serves malloc.
static int cpeer_owns_malloc(void) {
	void *p = malloc(64);
	int in = mi_is_in_heap_region(p);
	free(p);
	return in;
}
*/
import "C"

import (
	"errors"
	"fmt"
)

// Lib names the C allocator this binary links: "glibc" by default,
// "jemalloc" or "mimalloc" with those build tags.
const Lib = "mimalloc"

// Identify names the allocator behind malloc and its version, or returns an
// error when malloc is not the allocator Lib names.
func Identify() (string, error) {
	v := int(C.mi_version())
	if C.cpeer_owns_malloc() == 0 {
		return "", errors.New("cpeer: linked with -lmimalloc, but malloc is not mimalloc's (mi_is_in_heap_region says no)")
	}
	return fmt.Sprintf("mimalloc %d.%d.%d", v/100, v/10%10, v%10), nil
}
