package alloc_test

import (
	"fmt"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// Malloc returns memory outside the Go heap; it lives until Free.
func ExampleMalloc() {
	p := alloc.Malloc(64)
	b := unsafe.Slice((*byte)(p), 64)
	n := copy(b, "hello, offheap")
	fmt.Println(string(b[:n]))
	fmt.Println("16-byte aligned:", uintptr(p)%16 == 0)
	fmt.Println("usable bytes:", alloc.UsableSize(p)) // a 80-byte chunk less its 8-byte header
	alloc.Free(p)
	// Output:
	// hello, offheap
	// 16-byte aligned: true
	// usable bytes: 72
}

// Calloc returns zeroed memory, and nil when n*size overflows.
func ExampleCalloc() {
	const n = 1000
	xs := unsafe.Slice((*int64)(alloc.Calloc(n, 8)), n)
	sum := int64(0)
	for _, x := range xs {
		sum += x
	}
	fmt.Println("sum of", len(xs), "fresh elements:", sum)
	alloc.Free(unsafe.Pointer(&xs[0]))

	fmt.Println("overflow:", alloc.Calloc(1<<62, 16))
	// Output:
	// sum of 1000 fresh elements: 0
	// overflow: <nil>
}

// Realloc keeps the contents while the block grows (in place when it can).
func ExampleRealloc() {
	p := alloc.Malloc(8)
	copy(unsafe.Slice((*byte)(p), 8), "offheap!")
	p = alloc.Realloc(p, 100_000)
	fmt.Println(string(unsafe.Slice((*byte)(p), 8)))
	fmt.Println("Realloc(p, 0):", alloc.Realloc(p, 0)) // frees p
	// Output:
	// offheap!
	// Realloc(p, 0): <nil>
}

// AlignedAlloc takes any power of two.
func ExampleAlignedAlloc() {
	p := alloc.AlignedAlloc(4096, 100)
	fmt.Println("page aligned:", uintptr(p)%4096 == 0)
	alloc.Free(p)
	fmt.Println("alignment 24:", alloc.AlignedAlloc(24, 100))
	// Output:
	// page aligned: true
	// alignment 24: <nil>
}

// Bytes gives a []byte backed by offheap memory.
func ExampleBytes() {
	b := alloc.Bytes(5)
	copy(b, "bytes")
	fmt.Println(string(b), len(b), cap(b))
	alloc.FreeBytes(b)
	// Output: bytes 5 5
}

type point struct{ X, Y float64 }

// New and MakeSlice allocate zeroed values of types without Go pointers.
func ExampleNew() {
	p := alloc.New[point]()
	p.X, p.Y = 3, 4
	fmt.Println(*p)
	alloc.Delete(p)

	s := alloc.MakeSlice[point](3)
	s[2].Y = 1
	fmt.Println(s)
	alloc.FreeSlice(s)

	defer func() { fmt.Println("panic:", recover()) }()
	alloc.New[*point]() // a pointer must not live where the GC cannot see it
	// Output:
	// {3 4}
	// [{0 0} {0 0} {0 1}]
	// panic: offheap: type *alloc_test.point contains Go pointers and cannot live in offheap memory
}

// Mallopt sets glibc's parameters; unlike glibc it refuses bad values.
func ExampleMallopt() {
	fmt.Println(alloc.Mallopt(tune.MXFast, 64))
	fmt.Println(alloc.Mallopt(tune.MXFast, 1000))
	fmt.Println(alloc.Mallopt(tune.Param(42), 1))
	fmt.Println(alloc.Mallopt(tune.MXFast, 128)) // back to the default
	// Output:
	// <nil>
	// tune: mxfast = 1000: out of range; accepted 0 to 160 bytes
	// tune: unknown parameter Param(42)
	// <nil>
}

// Mallinfo2 shows where memory went: a request that the heap cannot serve,
// at or above the mmap threshold, gets a mapping of its own.
func ExampleMallinfo2() {
	before := alloc.Mallinfo2()
	// More than all the free memory of the heap, and than the highest the
	// dynamic threshold can rise to.
	n := max(before.Fordblks, 32<<20) + 1<<20
	p := alloc.Malloc(n)
	after := alloc.Mallinfo2()
	fmt.Println("mapped chunks:", after.Hblks-before.Hblks)
	fmt.Println("mapped bytes cover the request:", after.Hblkhd-before.Hblkhd >= n)
	fmt.Println("in use + free == arena:", after.Uordblks+after.Fordblks == after.Arena)
	alloc.Free(p)
	fmt.Println("after Free:", alloc.Mallinfo2().Hblks-before.Hblks)
	// Output:
	// mapped chunks: 1
	// mapped bytes cover the request: true
	// in use + free == arena: true
	// after Free: 0
}

// ReadStats reports the heap as glibc's mallinfo2 does and more: the
// memory system calls made, page faults and resident set sizes.
func ExampleReadStats() {
	p := alloc.Malloc(1 << 20)
	var s alloc.Stats
	alloc.ReadStats(&s)
	fmt.Println("arenas:", len(s.Arenas) >= 1)
	fmt.Println("in use covers the block:", s.HeapInuse+s.Mapped.Bytes >= 1<<20)
	fmt.Println("memory came from brk or mmap:", s.Syscalls.Brk.Calls+s.Syscalls.Mmap.Calls > 0)
	fmt.Println("process resident:", s.RSS.Process > 0)
	alloc.Free(p)
	// Output:
	// arenas: true
	// in use covers the block: true
	// memory came from brk or mmap: true
	// process resident: true
}

// Measure runs a function and reports what it cost in time, system calls,
// page faults and peak resident memory.
func ExampleMeasure() {
	u := alloc.Measure(func() {
		var ps []unsafe.Pointer
		for range 1000 {
			ps = append(ps, alloc.Malloc(4096))
		}
		for _, p := range ps {
			alloc.Free(p)
		}
	})
	fmt.Println("took time:", u.Elapsed > 0, "peak RSS known:", u.PeakRSS > 0)
	// Output:
	// took time: true peak RSS known: true
}

// Trim gives free memory back to the system, as glibc's malloc_trim; Check
// walks every arena, mapped chunk and cache and reports the first broken
// invariant.
func ExampleTrim() {
	ps := make([]unsafe.Pointer, 0, 256)
	for range cap(ps) {
		ps = append(ps, alloc.Malloc(16<<10))
	}
	for _, p := range ps {
		alloc.Free(p)
	}
	alloc.Trim(0)
	fmt.Println("heap sound:", alloc.Check() == nil)
	// Output:
	// heap sound: true
}
