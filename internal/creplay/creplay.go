// Package creplay replays an allocation trace against the C library's
// malloc (glibc's, unless another is linked) in one cgo call: the loop runs
// in C, so the allocator is measured, not the crossings. It is the only
// package of offheap that uses cgo for replay, and only the creplay
// command (cmd/creplay) links it: in a binary that links C, offheap leaves
// the program break to glibc, so offheap's own replays run elsewhere (see
// internal/replay).
package creplay

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

typedef struct {
	uint8_t  kind;
	uint8_t  pad[3];
	uint32_t id;
	uint32_t old;
	uint32_t heap;
	uint64_t size;
	uint64_t arg;
} op_t;

_Static_assert(sizeof(op_t) == 32, "op_t must match replay.Op");

static void touch(char *p, uint64_t n) {
	for (uint64_t off = 0; off < n; off += 4096) {
		p[off] = 1;
	}
	if (n > 0) {
		p[n-1] = 1;
	}
}

// replay runs n ops; slots has room for every id; ended lists the blocks
// each heap destroy ends. glibc has no private heaps: their allocations
// come from the process heap, and a destroy frees the heap's live blocks
// one by one. It returns the number of allocations that failed.
static int64_t replay(const op_t *ops, int64_t n, void **slots, const uint32_t *ended, int notouch) {
	int64_t failed = 0;
	for (int64_t i = 0; i < n; i++) {
		const op_t *o = &ops[i];
		void *p = NULL;
		uint64_t bytes = o->size;
		switch (o->kind) {
		case 1:
			p = malloc(o->size);
			break;
		case 2:
			p = calloc(o->arg, o->size);
			bytes = o->size * o->arg;
			break;
		case 3:
			p = realloc(slots[o->old], o->size);
			if (p != NULL || o->size == 0) {
				slots[o->old] = NULL;
			}
			break;
		case 4:
			p = memalign(o->arg, o->size);
			break;
		case 5:
			free(slots[o->id]);
			slots[o->id] = NULL;
			continue;
		case 6:
			continue;
		case 7:
			for (uint64_t j = o->size; j < o->size + o->arg; j++) {
				free(slots[ended[j]]);
				slots[ended[j]] = NULL;
			}
			continue;
		}
		if (p == NULL) {
			failed++;
			continue;
		}
		if (!notouch) {
			touch(p, bytes);
		}
		slots[o->id] = p;
	}
	return failed;
}
*/
import "C"

import (
	"syscall"
	"unsafe"

	"github.com/offheap/offheap/internal/replay"
)

// Replay is a replay.ReplayFunc over the C library's malloc. The op array
// and the list of blocks ended by destroys are Go memory, the slot table is
// mapped for the purpose, so the only C heap in use is the replay's. A
// private heap's allocations come from the process heap, and its destroy
// frees its live blocks.
func Replay(t *replay.Trace, noTouch bool) int64 {
	ops := t.Ops
	if len(ops) == 0 {
		return 0
	}
	var ended *C.uint32_t
	if len(t.Ended) > 0 {
		ended = (*C.uint32_t)(unsafe.Pointer(&t.Ended[0]))
	}
	slotBytes := (t.IDs + 1) * int(unsafe.Sizeof(uintptr(0)))
	slots, err := syscall.Mmap(-1, 0, slotBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		panic("creplay: mapping the slot table: " + err.Error())
	}
	// Keep the slot table: blocks still live at the end stay referenced,
	// as in the traced program.
	nt := C.int(0)
	if noTouch {
		nt = 1
	}
	return int64(C.replay((*C.op_t)(unsafe.Pointer(&ops[0])), C.int64_t(len(ops)), (*unsafe.Pointer)(unsafe.Pointer(&slots[0])), ended, nt))
}

// InUse returns the bytes the C library's malloc has handed out and not
// taken back (glibc's mallinfo2: uordblks, in its arenas, plus hblkhd, in
// mapped chunks).
func InUse() int64 {
	m := C.mallinfo2()
	return int64(m.uordblks + m.hblkhd)
}
