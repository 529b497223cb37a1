//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

#include "go_asm.h"
#include "textflag.h"
#include "gpid_amd64.h"

// func Free(ptr unsafe.Pointer)
//
// Free's fast path of fast_free.go (the same checks in the same terms, the
// same push), with the P's id read inline as Malloc does
// (fast_malloc_amd64.s): arena.FastRegion (the room after the chunk in the
// break region or in one of this Heap's heaps, and the granule entry that
// tells a foreign chunk), arena.InUseHeader (alignment, room, an in-use
// chunk of an arena with its tag), the cache key (a double free), then the
// push onto the P's class: a small chunk's own or foreign class, a
// mid-size chunk's class unless it may border the top (arena.MayBorderTop,
// then arena.NextIsTop). arena's layout comes from its Asm constants
// (fast_free_amd64.go). Anything else (a fast path turned off, a pointer
// offheap does not hold in use, a double free, no cache, a full class, a
// mapped or too large chunk, one bordering the top) jumps to freeMiss with
// nothing changed; a sampled block whose header passes the same checks
// jumps to freeSampled, which takes it out of the heap profile and frees
// it. It calls nothing and is never preempted,
// so it stays on its P from the id to the push.
//
// The code is in fast_free_amd64.h, which freeFast includes too: a
// test's way into the very instructions Free runs, without the push's
// being hidden by what freeMiss does next.
//
// Registers: AX the pointer p, BX its chunk c = p-16, R8 the Heap, R9 the
// room, R10 the granule entry, R11 the chunk's size, CX the P's cache,
// DX the class's offset in it, SI the key.
TEXT ·Free(SB), NOSPLIT|NOFRAME, $0-8
#define FREE_PUSHED RET
#define FREE_SAMPLED JMP ·freeSampled(SB)
#include "fast_free_amd64.h"
#undef FREE_PUSHED
#undef FREE_SAMPLED
miss:
	JMP	·freeMiss(SB)

// func freeFast(ptr unsafe.Pointer) (pushed bool)
//
// Free's fast path alone, for TestFastFreeAsm: true when it pushed ptr's
// chunk onto the P's cache, false where Free would jump to freeMiss (and
// nothing changed).
TEXT ·freeFast(SB), NOSPLIT|NOFRAME, $0-9
#define FREE_PUSHED JMP done
#define FREE_SAMPLED JMP miss
#include "fast_free_amd64.h"
#undef FREE_PUSHED
#undef FREE_SAMPLED
miss:
	MOVB	$0, pushed+8(FP)
	RET
done:
	MOVB	$1, pushed+8(FP)
	RET
