package alloc

import "github.com/offheap/offheap/arena"

// OnEvent registers f to be told of every change in what offheap holds
// from the operating system: heap growth and shrinking, new heaps, mapped
// chunks, pages released by Trim, and rises of the dynamic threshold. It
// replaces any earlier f; nil turns reporting off. f runs with an arena
// lock held: it must be quick and must not call offheap. For diagnostics
// (the demo command prints these events); it costs nothing when unset.
func OnEvent(f func(arena.Event)) {
	if f == nil {
		eventHook.Store(nil)
		return
	}
	eventHook.Store(&f)
}
