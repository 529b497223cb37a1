// The C side of bench/cpeer: one malloc and one free per cgo call, and the
// workloads' loops run natively. Whatever malloc the binary links (glibc's,
// or jemalloc's or mimalloc's with the build tags) serves them.
#ifndef OFFHEAP_BENCH_CPEER_H
#define OFFHEAP_BENCH_CPEER_H

#include <stddef.h>
#include <stdint.h>

// Must equal bench.MixSizes, bench.MixOffsets, bench.RingSize and
// bench.RingPublish (TestConstants checks).
enum {
	CPEER_MIX_SIZES = 8192,
	CPEER_MIX_OFFSETS = 4096,
	CPEER_RING_SIZE = 1024,
	CPEER_RING_PUBLISH = 64,
};

// A live set of the mixed workloads; sizes and offsets are read-only
// tables shared by every worker, slots is the worker's own.
typedef struct {
	void **slots;
	uint32_t nslots;
	const uint32_t *sizes;
	const uint32_t *offsets;
	uint32_t off_state, size_state;
	int touch; // write a byte in every page of a new block (bench.Mix.Touch)
} cpeer_mix;

void *cpeer_malloc(size_t n);
void cpeer_free(void *p);
void *cpeer_realloc(void *p, size_t n);

void cpeer_pair(size_t size, int64_t n);
void cpeer_mix_fill(cpeer_mix *m);
void cpeer_mix_run(cpeer_mix *m, int64_t n);
void cpeer_mix_close(cpeer_mix *m);
// cpeer_prodcons allocates n blocks of size bytes on the calling thread and
// frees them on a new one; it returns 0, -1 when the ring cannot be
// allocated, or pthread_create's or pthread_join's error.
int cpeer_prodcons(size_t size, int64_t n);

#endif
