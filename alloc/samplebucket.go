package alloc

import (
	"math/bits"
	"slices"
	"sync/atomic"
	"unsafe"
)

// Buckets of heap-profile samples, as runtime/mprof.go keeps them: one per
// distinct stack, block size and label set, holding the number of sampled
// blocks allocated and freed there. A sample adds one to its bucket's
// allocs, the free of a sampled block one to its frees (first in the P's
// own pending counts, see psample); a profile reads the two counts of every
// bucket (profile.go), so the profiler's memory grows with the distinct
// allocation sites, never with time or with the samples.
//
// Buckets are never removed. They hang in a fixed hash table of lists that
// grow at the head by compare-and-swap, so finding a bucket takes no lock,
// and carry a small id, by which the table of sampled blocks
// (sampletable.go) names them in one word.

const (
	bucketHashBits  = 12
	bucketChunkBits = 10
	bucketIDBits    = 20
	maxBucketID     = 1<<bucketIDBits - 1 // ids run from 1
)

// bucket is one allocation site's sampled blocks.
type bucket struct {
	next    *bucket // in its hash list; set before the bucket is published
	hash    uint64
	id      uint32
	logical bool           // stk is runtime.Callers's (logical frames), else physical return PCs
	size    int            // the blocks' size class (profileClass): one bucket serves every size in it
	labels  unsafe.Pointer // the goroutine's pprof label set (labels.go), or nil
	heap    uint32         // the private heap's ID (a label of the profile), 0 for the process heap
	stk     []uintptr
	_       [64]byte // the counts on a line of their own: samples write them, lookups read the above
	allocs  atomic.Int64
	frees   atomic.Int64
	bytes   atomic.Int64 // the sampled blocks' exact sizes, summed
}

// profileClass returns the size class that a sampled block of n bytes is
// counted in: up to 64 KiB the caches' classes (the chunk's usable size),
// above that four classes per doubling. Keying buckets by exact size, as
// the runtime does, would make a bucket per distinct size at a call site
// that allocates sizes it computes, and buckets are never freed; with
// classes a call site has at most a few hundred.
func profileClass(n int) int {
	if n <= midLimit {
		return int(classChunk[requestClass(uintptr(max(n, 0)))]) - 8
	}
	shift := bits.Len(uint(n)) - 3 // four steps per doubling
	step := 1 << shift
	return (n + step - 1) &^ (step - 1)
}

var buckets struct {
	heads   [1 << bucketHashBits]atomic.Pointer[bucket]
	byID    [(maxBucketID + 1) >> bucketChunkBits]atomic.Pointer[[1 << bucketChunkBits]*bucket]
	nextID  atomic.Uint32
	dropped atomic.Int64 // samples not recorded because every id was taken
}

// A bucket's hash is its stack's (stackHash), which the frame-pointer
// walk computes as it goes (captureFP), mixed with the rest of its key
// (keyHash). The stack's is a multiply-xor a frame, with no shift: a frame
// adds four cycles to the chain, under the walk's own chain of loads, so a
// fresh sample pays no pass over its stack for it; keyHash then mixes the
// whole (murmur3's finalizer).
const (
	stackHashSeed  = 0xcbf29ce484222325
	stackHashPrime = 0x100000001b3
)

// stackHash is the hash of a stack's PCs, as captureFP computes it.
func stackHash(stk []uintptr) uint64 {
	h := uint64(stackHashSeed)
	for _, pc := range stk {
		h = (h ^ uint64(pc)) * stackHashPrime
	}
	return h
}

// keyHash mixes a stack's hash sh with the rest of a bucket's key.
func keyHash(sh uint64, logical bool, size int, labels unsafe.Pointer, heap uint32) uint64 {
	h := sh ^ uint64(size)*0x9E3779B97F4A7C15 ^ uint64(uintptr(labels))*0xC2B2AE3D27D4EB4F ^ uint64(heap)<<40
	if logical {
		h ^= 0x5bd1e995
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func bucketHash(stk []uintptr, logical bool, size int, labels unsafe.Pointer, heap uint32) uint64 {
	return keyHash(stackHash(stk), logical, size, labels, heap)
}

func (b *bucket) matches(h uint64, stk []uintptr, logical bool, size int, labels unsafe.Pointer, heap uint32) bool {
	return b.hash == h && b.size == size && b.labels == labels && b.heap == heap && b.logical == logical && stacksEqual(b.stk, stk)
}

// stacksEqual is slices.Equal for stacks, compared as bytes by the
// runtime's vectorized memequal: a few instructions for a deep stack where
// a loop takes seven a frame.
func stacksEqual(a, b []uintptr) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	return unsafe.String((*byte)(unsafe.Pointer(&a[0])), len(a)*8) == unsafe.String((*byte)(unsafe.Pointer(&b[0])), len(b)*8)
}

// lookupBucket returns the bucket of a stack, size and label set, or nil
// if there is none yet. It takes no lock and allocates nothing.
func lookupBucket(stk []uintptr, logical bool, size int, labels unsafe.Pointer, heap uint32) *bucket {
	return lookupBucketHash(stackHash(stk), stk, logical, size, labels, heap)
}

// lookupBucketHash is lookupBucket for a stack whose hash sh is known
// (stackHash: a walk's memo holds it).
func lookupBucketHash(sh uint64, stk []uintptr, logical bool, size int, labels unsafe.Pointer, heap uint32) *bucket {
	h := keyHash(sh, logical, size, labels, heap)
	for b := buckets.heads[h&(1<<bucketHashBits-1)].Load(); b != nil; b = b.next {
		if b.matches(h, stk, logical, size, labels, heap) {
			return b
		}
	}
	return nil
}

// findBucket returns the bucket of a stack, size and label set, making it
// if needed, or nil when every id is taken.
func findBucket(stk []uintptr, logical bool, size int, labels unsafe.Pointer, heap uint32) *bucket {
	h := bucketHash(stk, logical, size, labels, heap)
	head := &buckets.heads[h&(1<<bucketHashBits-1)]
	var nb *bucket
	var seen *bucket // the list from here down was searched already
	for {
		first := head.Load()
		for b := first; b != seen; b = b.next {
			if b.matches(h, stk, logical, size, labels, heap) {
				return b // nb, if made, stays unpublished; its id is lost
			}
		}
		seen = first
		if nb == nil {
			id := buckets.nextID.Add(1)
			if id > maxBucketID {
				buckets.nextID.Store(maxBucketID + 1)
				return nil
			}
			nb = &bucket{hash: h, id: id, logical: logical, size: size, labels: labels, heap: heap, stk: slices.Clone(stk)}
			// The id must name the bucket before anyone can find it.
			chunk := &buckets.byID[id>>bucketChunkBits]
			c := chunk.Load()
			if c == nil {
				chunk.CompareAndSwap(nil, new([1 << bucketChunkBits]*bucket))
				c = chunk.Load()
			}
			atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&c[id&(1<<bucketChunkBits-1)])), unsafe.Pointer(nb))
		}
		nb.next = first
		if head.CompareAndSwap(first, nb) {
			return nb
		}
	}
}

// bucketByID returns the bucket with id, or nil.
func bucketByID(id uint32) *bucket {
	if id == 0 || id > maxBucketID {
		return nil
	}
	c := buckets.byID[id>>bucketChunkBits].Load()
	if c == nil {
		return nil
	}
	return (*bucket)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&c[id&(1<<bucketChunkBits-1)]))))
}

// allBuckets returns every published bucket.
func allBuckets() []*bucket {
	n := min(buckets.nextID.Load(), maxBucketID)
	out := make([]*bucket, 0, n)
	for id := uint32(1); id <= n; id++ {
		if b := bucketByID(id); b != nil {
			out = append(out, b)
		}
	}
	return out
}
