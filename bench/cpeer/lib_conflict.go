//go:build jemalloc && mimalloc

package cpeer

// Only one C allocator can replace malloc in a binary: this line stops a
// build with both tags, naming the problem in the compiler's message.
var _ int = "cpeer: build with -tags jemalloc or -tags mimalloc, not both"
