//go:build cgo && !jemalloc && !mimalloc

package cpeer

/*
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdlib.h>

// glibc's malloc_usable_size(malloc(100)) is 104: a 112-byte chunk less
// its 8-byte header. jemalloc says 112, mimalloc 104 too but it is not
// linked in this build.
static size_t cpeer_usable_100(void) {
	void *p = malloc(100);
	size_t n = malloc_usable_size(p);
	free(p);
	return n;
}
*/
import "C"

import "fmt"

// Lib names the C allocator this binary links: "glibc" by default,
// "jemalloc" or "mimalloc" with those build tags.
const Lib = "glibc"

// Identify names the allocator behind malloc and its version, or returns an
// error when malloc is not the allocator Lib names.
func Identify() (string, error) {
	v := C.GoString(C.gnu_get_libc_version())
	if n := C.cpeer_usable_100(); n != 104 {
		return "", fmt.Errorf("cpeer: malloc is not glibc's: malloc_usable_size(malloc(100)) = %d, glibc says 104", n)
	}
	return "glibc " + v, nil
}
