package alloc

import (
	"runtime"
	"unsafe"
)

// The stacks of heap-profile samples.
//
// A sample records the return PCs of the allocating goroutine's frames,
// leaf first, as runtime.Callers would, but it takes them from the frame
// pointers, as the runtime's execution tracer does (runtime/tracestack.go,
// fpTracebackPCs): on amd64 and arm64 every Go frame that calls another
// function keeps a frame record at its frame pointer,
//
//	fp+0: the caller's frame pointer (the next record, at a higher address)
//	fp+8: the return address into the caller
//
// and the chain ends with 0 at the goroutine's first frame (whose return
// address is runtime.goexit's, which runtime.Callers reports too). A walk is
// two loads a frame, against hundreds of nanoseconds for runtime.Callers,
// which decodes the tables of every function on the way.
//
// The PCs so taken are physical: a function inlined into its caller has no
// frame, and shares its caller's return PC, where runtime.Callers lists
// one entry per logical frame; and wrapper frames (a go statement's
// closure, method-value and interface wrappers) are there, where
// runtime.Callers leaves them out. When a profile is written, and only
// then, expandPhysical (fpexpand_go126.go) puts such a stack in
// runtime.Callers's form, as runtime/pprof does with the frame-pointer
// stacks of its block and mutex profiles, so both give the same frames.
//
// The walk trusts nothing it reads: it stops where a frame pointer is 0,
// misaligned, not above the previous one, or outside the goroutine's stack
// (callerFrame). A chain that leaves the stack before it ends (a Go
// function called back from C: the record above the callback lies on the
// C thread's stack) is not trusted: such samples, and builds without the
// unwinder (other architectures, the offheap_nofpunwind tag, a runtime
// whose g does not look as expected), take runtime.Callers instead.
//
// The memo. Most samples in an allocation-heavy loop come from the same
// frames: the same goroutine, the same stack addresses, the same return
// addresses. Each P remembers the chain of its last walk (stackMemo), and a
// sample first checks whether the chain is still there: starting at the
// same frame pointer, each record still holding the same next frame
// pointer and return address, down to the same end. That check reads
// exactly the words a walk would read, all of them within the running
// goroutine's stack (the memo's records rise from the sample's own frame
// pointer to a last one below the stack's top), and gives the same answer
// as a walk; but the addresses it reads are known in advance, so the
// processor issues the loads together instead of one after the other, past
// the first few frames without a branch a frame, and a hit also finds the
// sample's bucket without hashing the stack (sample.go).

// maxStack is the deepest stack a sample records.
const maxStack = 64

// fpUnwind says whether samples take their stacks from the frame pointers.
var fpUnwind = fpUnwindWorks()

// stackMemo is one P's last frame-pointer walk.
type stackMemo struct {
	n    int               // frames in fp and pc; 0 when there is no memo
	full bool              // the walk stopped at maxStack, not at the end of the chain
	fp   [maxStack]uintptr // fp[i] is the frame record holding pc[i]
	pc   [maxStack]uintptr // the stack
	h    uint64            // stackHash of the stack
	b    *bucket           // the bucket this stack was last charged to, or nil (sample.go)
}

// Results of captureFP.
const (
	captureMiss   = iota // walked afresh: m holds the new stack
	captureHit           // the stack in m is the caller's
	captureFailed        // the chain left the stack or looked wrong: use runtime.Callers
)

// captureFP takes the stack of its caller into m, skip frames up as
// runtime.Callers(skip) counts them (1 is captureFP's caller's own frame;
// skip must be at least 1), and says whether m already held it. It calls
// nothing but assembly that cannot grow the stack (nosplit), so the frame
// pointers it reads cannot move under it; it is not instrumented for the
// race detector or checkptr, since it reads the raw words of the stack's
// frame records.
//
//go:nosplit
//go:noinline
//go:norace
//go:nocheckptr
func captureFP(m *stackMemo, skip int) int {
	fp, lo, hi := callerFrame() // captureFP's own record (its return address is skip 1), the stack's bounds
	for ; skip > 1; skip-- {
		if fp < lo || fp > hi-16 || fp&7 != 0 {
			return captureFailed
		}
		next := *(*uintptr)(unsafe.Add(nil, fp))
		if next <= fp {
			return captureFailed
		}
		fp = next
	}
	if fp < lo || fp > hi-16 || fp&7 != 0 {
		return captureFailed
	}
	if n := m.n; n > 0 && m.fp[0] == fp && m.fp[n-1] <= hi-16 {
		// The memo. Every record of the memo lies within the running
		// goroutine's stack (they rise from fp, which does, to the last,
		// which does too), so each can be read whatever it now holds:
		// the check reads them all and ORs together how each differs from
		// what the memo says it held (its next record, its return
		// address), without a branch a frame: the first memoFirstFrames
		// (where two stacks of a P mostly differ: those are walked afresh)
		// in a row, then a branch, then the others in a loop. None
		// differing, each record read is the next of the running chain,
		// as a walk would find. (A branch a frame mispredicted about twice
		// a sample, at the loops' ends, where samples come one in eight
		// pairs: cachegrind.) (Indexed through unsafe.Add: no bounds
		// checks, since n <= maxStack.)
		fps, pcs := unsafe.Pointer(&m.fp), unsafe.Pointer(&m.pc)
		last := n - 1
		var diff uintptr
		i := 0
		if last >= memoFirstFrames {
			diff = memoFrameDiff(fps, pcs, 0) | memoFrameDiff(fps, pcs, 1) | memoFrameDiff(fps, pcs, 2) |
				memoFrameDiff(fps, pcs, 3) | memoFrameDiff(fps, pcs, 4)
			i = memoFirstFrames
		}
		if diff == 0 {
			for ; i+1 < last; i += 2 { // two frames a turn: half the loop's own instructions
				diff |= memoFrameDiff(fps, pcs, i) | memoFrameDiff(fps, pcs, i+1)
			}
			if i < last {
				diff |= memoFrameDiff(fps, pcs, i)
			}
		}
		f := *(*uintptr)(unsafe.Add(fps, last*8))
		diff |= *(*uintptr)(unsafe.Add(nil, f+8)) ^ *(*uintptr)(unsafe.Add(pcs, last*8))
		if diff == 0 && (m.full || *(*uintptr)(unsafe.Add(nil, f)) == 0) {
			return captureHit
		}
	}
	// The walk, hashing the stack as it goes (fpWalk).
	n, h, st := fpWalk(fp, hi-16, &m.fp[0], &m.pc[0])
	if st == walkFailed {
		m.n = 0
		return captureFailed
	}
	m.full = st == walkFull
	m.n = n
	m.h = h
	m.b = nil
	return captureMiss
}

// Results of fpWalk.
const (
	walkEnd    = iota // the chain ended: a record's next is 0
	walkFull          // maxStack frames taken, the chain goes on
	walkFailed        // a next record not above the last, above limit, or misaligned
)

// fpWalkGo walks the frame records from fp, which the caller has checked:
// it writes each record's address to fps[n] and its return address to
// pcs[n] (arrays of maxStack), folds the return addresses into h as
// stackHash does, and goes on to the next record, which must lie above
// this one, at or below limit, 8-aligned. The hash's chain of multiplies
// runs alongside the walk's chain of loads, so a fresh sample pays no
// second pass over its stack to look its bucket up. fpWalk is this in
// assembly on amd64, where the compiler's loop took twenty-seven
// instructions a frame against seventeen.
//
//go:nosplit
//go:norace
//go:nocheckptr
func fpWalkGo(fp, limit uintptr, fps, pcs *uintptr) (n int, h uint64, st int) {
	fpp, pcp := unsafe.Pointer(fps), unsafe.Pointer(pcs)
	h = stackHashSeed
	for {
		pc := *(*uintptr)(unsafe.Add(nil, fp+8))
		*(*uintptr)(unsafe.Add(fpp, n*8)) = fp
		*(*uintptr)(unsafe.Add(pcp, n*8)) = pc
		h = (h ^ uint64(pc)) * stackHashPrime
		n++
		next := *(*uintptr)(unsafe.Add(nil, fp))
		if next == 0 {
			return n, h, walkEnd
		}
		if n == maxStack {
			return n, h, walkFull
		}
		if next <= fp || next > limit || next&7 != 0 {
			return n, h, walkFailed
		}
		fp = next
	}
}

// memoFirstFrames is how many frames of the memo are checked first, in a
// row, before a branch: offheap's own frames (the sampler's callers up to
// Malloc's), then the program's first two, where two of a P's samples
// mostly differ.
const memoFirstFrames = 5

// memoFrameDiff returns how record i of memo arrays fps and pcs (stackMemo's
// fp and pc, below n-1) differs from what the memo says it holds: its next
// record and its return address. 0 means no difference.
//
//go:nosplit
//go:norace
//go:nocheckptr
func memoFrameDiff(fps, pcs unsafe.Pointer, i int) uintptr {
	f := *(*uintptr)(unsafe.Add(fps, i*8))
	return (*(*uintptr)(unsafe.Add(nil, f+8)) ^ *(*uintptr)(unsafe.Add(pcs, i*8))) |
		(*(*uintptr)(unsafe.Add(nil, f)) ^ *(*uintptr)(unsafe.Add(fps, i*8+8)))
}

// fpCallers is runtime.Callers taken from the frame pointers: it fills pcs
// with the return PCs of its caller's stack, skip frames up (skip >= 1; 1
// starts with the caller's own return PC... that is, as runtime.Callers
// counts), and returns how many it wrote, or -1 when the frame-pointer walk
// is not available or failed. Physical frames only: see the top of this
// file.
//
//go:noinline
func fpCallers(skip int, pcs []uintptr) int {
	if !fpUnwind {
		return -1
	}
	var m stackMemo
	if captureFP(&m, skip+1) == captureFailed {
		return -1
	}
	return copy(pcs, m.pc[:m.n])
}

// fpUnwindWorks reports whether this build has the unwinder and the
// runtime looks as it expects: the goroutine's stack bounds bracket the
// running frame, and a walk from here, put in runtime.Callers's form
// (expandPhysical), finds the PCs runtime.Callers finds.
func fpUnwindWorks() bool {
	if !fpUnwindBuilt {
		return false
	}
	return fpUnwindCheck()
}

//go:noinline
func fpUnwindCheck() bool {
	fp, lo, hi := callerFrame()
	if lo >= hi || hi-lo < 2048 || hi-lo > 1<<31 || fp < lo || fp > hi-16 {
		return false
	}
	var m stackMemo
	var callers [maxStack]uintptr
	if captureFP(&m, 1) == captureFailed || m.full {
		return false
	}
	nc := runtime.Callers(1, callers[:])
	logical := expandPhysical(m.pc[:m.n])
	if len(logical) != nc || nc == 0 {
		return false
	}
	// The first return PCs are two different calls in this function.
	f0, f1 := runtime.FuncForPC(logical[0]-1), runtime.FuncForPC(callers[0]-1)
	if f0 == nil || f1 == nil || f0.Entry() != f1.Entry() {
		return false
	}
	for i := 1; i < nc; i++ {
		if logical[i] != callers[i] {
			return false
		}
	}
	return true
}
