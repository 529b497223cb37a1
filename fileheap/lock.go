package fileheap

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The lock is a futex word in the header, shared by every process that has
// the file mapped. It holds 0 when free; otherwise the owner's slot + 1, the
// slot's generation (raised each time a process takes the slot) and the
// contended bit. Taking it uncontended is one compare-and-swap; releasing
// it is a plain store (commitUnlock), with a futex wake only when the
// contended bit says someone sleeps.
//
// A locker that finds the word taken reads it again a hundred times (the
// owner is likely running on another core and about done: critical
// sections take tens of nanoseconds), then retries yielding the processor
// for a few microseconds, then sets the contended bit and sleeps on the
// futex. Between sleeps, of at most ownerCheck, it asks
// whether the owner is still alive: its slot's byte lock is still held
// (see sys_linux.go) and the slot's generation is still the word's. If not,
// the owner died holding the lock: the locker takes the word over with a
// compare-and-swap (so one locker does), undoes the journal the dead owner
// left (journal.go), and goes on with its own operation.

const (
	// spinLoads is how many times a locker reads the word before it
	// yields (critical sections take tens of nanoseconds), and spinYields
	// how many times it yields before it sleeps.
	spinLoads  = 100
	spinYields = 64
	// ownerCheck bounds a futex sleep, so that an owner that died is
	// noticed (a live owner's unlock wakes the sleeper at once).
	ownerCheck = 5 * time.Millisecond
)

// lock takes the heap's lock. The error is a failed recovery of a dead
// owner's operation (a corrupted journal); the lock is held even then.
func (h *Heap) lock() error {
	if atomic.CompareAndSwapUint32(h.lockw, 0, h.me) {
		return nil
	}
	return h.lockSlow()
}

func (h *Heap) lockSlow() error {
	var (
		slept   bool
		watched uint32 // the owner word last checked
		checked time.Time
	)
	for i := 0; ; i++ {
		w := atomic.LoadUint32(h.lockw)
		if w == 0 {
			v := h.me
			if slept {
				// Others may still sleep: keep the bit so that our unlock
				// wakes one of them.
				v |= contended
			}
			if atomic.CompareAndSwapUint32(h.lockw, 0, v) {
				return nil
			}
			continue
		}
		if i < spinLoads {
			continue // the owner runs on another core and is about done
		}
		if i < spinLoads+spinYields {
			runtime.Gosched()
			continue
		}
		if owner := w &^ contended; owner != watched || time.Since(checked) >= ownerCheck {
			watched, checked = owner, time.Now()
			if h.ownerDead(owner) {
				if atomic.CompareAndSwapUint32(h.lockw, w, h.me|contended) {
					return h.recoverDead(owner)
				}
				continue
			}
		}
		if w&contended == 0 && !atomic.CompareAndSwapUint32(h.lockw, w, w|contended) {
			continue
		}
		futexWait(h.lockw, w|contended, ownerCheck)
		slept = true
	}
}

// unlock releases the lock, emptying the journal (which the caller has
// already committed or rolled back).
func (h *Heap) unlock() {
	if commitUnlock(h.jcount, h.lockw)&contended != 0 {
		h.wake()
	}
}

// wake wakes one locker sleeping on the lock (kept out of line so that
// unlock inlines).
//
//go:noinline
func (h *Heap) wake() { futexWake(h.lockw) }

// unlockKeepJournal releases the lock but leaves the journal as it is: the
// journal a dead owner left could not be undone (it is corrupted), and the
// next Open must see it rather than a heap that looks whole.
func (h *Heap) unlockKeepJournal() {
	if atomic.SwapUint32(h.lockw, 0)&contended != 0 {
		h.wake()
	}
}

// ownerDead reports whether the process named by lock word owner (no
// contended bit) is gone.
func (h *Heap) ownerDead(owner uint32) bool {
	slot := int(owner&lockSlotMask) - 1
	gen := owner >> lockGenShift & lockGenMask
	if slot < 0 || slot >= nSlots {
		return true // no process can have written this: a corrupted word
	}
	if slot == h.slot {
		// Our own slot: a goroutine of ours holds it, or the process that
		// had the slot before us died holding it.
		return gen != h.gen
	}
	if atomic.LoadUint32(h.ptr32(slotOff(slot)+slotGen))&lockGenMask != gen {
		return true // the slot was taken again since: its owner has gone
	}
	held, err := ofdHeld(h.fd, int64(slotOff(slot)))
	return err == nil && !held
}

// recoverDead finishes taking the lock from dead owner: the journal of its
// operation in flight is undone.
func (h *Heap) recoverDead(owner uint32) error {
	limit := h.mapLen.Load()
	if n, err := fileLength(h.fd); err != nil {
		return err
	} else if uintptr(n) < limit {
		limit = uintptr(n)
	}
	if err := h.undoJournal(limit); err != nil {
		return err
	}
	h.set(offRecoveries, h.word(offRecoveries)+1)
	commit(h.jcount)
	h.recovered.Add(1)
	return nil
}

// slotOff returns the offset of client slot i.
func slotOff(i int) uintptr { return offSlots + uintptr(i)*slotSize }
