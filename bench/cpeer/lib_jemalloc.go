//go:build cgo && jemalloc && !mimalloc

package cpeer

/*
#cgo LDFLAGS: -ljemalloc
#cgo CFLAGS: -DCPEER_JEMALLOC
#include <stdlib.h>

// jemalloc's mallctl, declared here so only the library is needed.
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static const char *cpeer_version(void) {
	const char *v = NULL;
	size_t n = sizeof(v);
	if (mallctl("version", &v, &n, NULL, 0) != 0)
		return NULL;
	return v;
}

// cpeer_owns_malloc reports whether jemalloc owns a block from malloc:
// arenas.lookup fails for memory jemalloc did not hand out.
static int cpeer_owns_malloc(void) {
	void *p = malloc(64);
	unsigned arena;
	size_t n = sizeof(arena);
	int err = mallctl("arenas.lookup", &arena, &n, &p, sizeof(p));
	free(p);
	return err == 0;
}
*/
import "C"

import "errors"

// Lib names the C allocator this binary links: "glibc" by default,
// "jemalloc" or "mimalloc" with those build tags.
const Lib = "jemalloc"

// Identify names the allocator behind malloc and its version, or returns an
// error when malloc is not the allocator Lib names.
func Identify() (string, error) {
	v := C.cpeer_version()
	if v == nil {
		return "", errors.New("cpeer: jemalloc's mallctl(\"version\") failed")
	}
	if C.cpeer_owns_malloc() == 0 {
		return "", errors.New("cpeer: linked with -ljemalloc, but malloc is not jemalloc's (arenas.lookup does not know its blocks)")
	}
	return "jemalloc " + C.GoString(v), nil
}
