package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/arena"
)

func init() {
	register("demo", "run a short mixed workload and narrate what the heap does", runDemo)
}

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	quiet := fs.Bool("q", false, "print only the summary, not every event")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return demo(os.Stdout, !*quiet)
}

func kib(n uintptr) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// demo runs the workload, printing each event the heap reports.
func demo(w io.Writer, verbose bool) error {
	// Runs of the same event are printed as one line when the run ends.
	var (
		events int
		run    []arena.Event
	)
	flush := func() {
		if len(run) == 0 || !verbose {
			run = run[:0]
			return
		}
		e := run[0]
		var total uintptr
		for _, r := range run {
			total += r.Size
		}
		times := ""
		if len(run) > 1 {
			times = fmt.Sprintf(" (%d times, %s in all)", len(run), kib(total))
		}
		switch e.Kind {
		case arena.EventGrow:
			fmt.Fprintf(w, "    arena %d's heap grew by %s%s\n", e.Arena, kib(e.Size), times)
		case arena.EventShrink:
			fmt.Fprintf(w, "    arena %d gave %s back to the OS: top trimmed%s\n", e.Arena, kib(e.Size), times)
		case arena.EventNewHeap:
			fmt.Fprintf(w, "    arena %d reserved a new 64 MiB heap at %#x%s\n", e.Arena, e.Addr, times)
		case arena.EventMap:
			fmt.Fprintf(w, "    mapped a chunk of %s at %#x (mmap)%s\n", kib(e.Size), e.Addr, times)
		case arena.EventUnmap:
			fmt.Fprintf(w, "    unmapped a chunk of %s (munmap)%s\n", kib(e.Size), times)
		case arena.EventRemap:
			fmt.Fprintf(w, "    remapped a chunk to %s (mremap)%s\n", kib(e.Size), times)
		case arena.EventRelease:
			fmt.Fprintf(w, "    released %s of free pages inside arena %d's heap (madvise)%s\n", kib(total), e.Arena, times)
		case arena.EventThreshold:
			fmt.Fprintf(w, "    dynamic threshold: mmap threshold now %s, trim threshold %s\n", kib(e.Size), kib(2*e.Size))
		case arena.EventKeep:
			fmt.Fprintf(w, "    kept a freed chunk's mapping of %s for reuse (decay)%s\n", kib(e.Size), times)
		case arena.EventReuse:
			fmt.Fprintf(w, "    reused a kept mapping of %s (no mmap)%s\n", kib(e.Size), times)
		case arena.EventPurge:
			fmt.Fprintf(w, "    unmapped a kept mapping of %s (munmap)%s\n", kib(e.Size), times)
		}
		run = run[:0]
	}
	alloc.OnEvent(func(e arena.Event) {
		events++
		if len(run) > 0 && (run[0].Kind != e.Kind || run[0].Arena != e.Arena) {
			flush()
		}
		run = append(run, e)
	})
	defer alloc.OnEvent(nil)

	info := func(title string) {
		flush()
		m := alloc.Mallinfo2()
		fmt.Fprintf(w, "  mallinfo2 %s: arena=%s in use=%s free=%s (%d free chunks) top=%s mapped=%d chunks/%s\n",
			title, kib(uintptr(m.Arena)), kib(uintptr(m.Uordblks)), kib(uintptr(m.Fordblks)), m.Ordblks,
			kib(uintptr(m.Keepcost)), m.Hblks, kib(uintptr(m.Hblkhd)))
	}
	step := func(n int, what string) { fmt.Fprintf(w, "\n%d. %s\n", n, what) }

	fmt.Fprintln(w, "offheap demo: glibc-style malloc outside the Go heap")
	fmt.Fprintln(w, "(the events below are reported by the heap itself through alloc.OnEvent)")
	info("at start")

	step(1, "allocate 2,000 small blocks (16-1024 bytes): the heap grows by the program break")
	small := make([]unsafe.Pointer, 0, 2000)
	for i := 0; i < 2000; i++ {
		small = append(small, alloc.Malloc(16+(i*37)%1009))
	}
	info("after")

	step(2, "allocate 200 KiB: above the 128 KiB mmap threshold and bigger than the top, so it gets its own mapping")
	big := alloc.Malloc(200 << 10)
	info("after")

	step(3, "free it: the mapping goes, and glibc's dynamic threshold rises to its size")
	alloc.Free(big)
	info("after")

	step(4, "allocate 200 KiB again: now below the threshold, it comes from the heap")
	big = alloc.Malloc(200 << 10)
	info("after")

	step(5, "allocate 64 MiB in 64 KiB blocks, then free them all: the top exceeds the trim threshold and is trimmed")
	blocks := make([]unsafe.Pointer, 0, 1024)
	for i := 0; i < 1024; i++ {
		blocks = append(blocks, alloc.Malloc(64<<10))
	}
	info("after allocating")
	for _, p := range blocks {
		alloc.Free(p)
	}
	info("after freeing")

	step(6, "free every other small block and call Trim(0): whole free pages inside the heap go back too")
	for i := 0; i < len(small); i += 2 {
		alloc.Free(small[i])
	}
	released := alloc.Trim(0)
	flush()
	fmt.Fprintf(w, "  Trim(0) released memory: %v\n", released)
	info("after")

	step(7, "free everything; Check() walks every chunk")
	for i := 1; i < len(small); i += 2 {
		alloc.Free(small[i])
	}
	alloc.Free(big)
	alloc.Trim(0)
	info("at the end")
	if err := alloc.Check(); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(w, "\nCheck() found no broken invariant; the heap reported %d events.\n", events)
	return nil
}
