// The workloads of package bench, written in C: the native floor. Each
// loop is the Go loop of bench/peer.go line for line (same tables, same
// generators, the first byte of every block written), with the blocks
// stored where the compiler must keep them, so no malloc/free pair can be
// folded away (and cgo's CFLAGS add -fno-builtin-malloc -fno-builtin-free).

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "native.h"

void *volatile cpeer_sink;

void *cpeer_malloc(size_t n) { return malloc(n); }

void cpeer_free(void *p) { free(p); }

void *cpeer_realloc(void *p, size_t n) { return realloc(p, n); }

// touch_pages writes a byte in every page of the n bytes at p after the
// first, and the last byte (bench.touchPages).
static void touch_pages(volatile char *p, size_t n) {
	for (size_t off = 4096; off < n; off += 4096)
		p[off] = 1;
	p[n - 1] = 1;
}

static inline uint32_t lcg_next(uint32_t x) { return x * 1103515245u + 12345u; }

void cpeer_pair(size_t size, int64_t n) {
	void *p = NULL;
	for (int64_t i = 0; i < n; i++) {
		p = malloc(size);
		*(volatile char *)p = (char)i;
		free(p);
	}
	cpeer_sink = p;
}

void cpeer_mix_fill(cpeer_mix *m) {
	for (uint32_t j = 0; j < m->nslots; j++) {
		m->size_state = lcg_next(m->size_state);
		size_t size = m->sizes[(m->size_state >> 16) & (CPEER_MIX_SIZES - 1)];
		void *p = malloc(size);
		*(volatile char *)p = (char)j;
		if (m->touch)
			touch_pages(p, size);
		m->slots[j] = p;
	}
}

void cpeer_mix_run(cpeer_mix *m, int64_t n) {
	void **slots = m->slots;
	const uint32_t *sizes = m->sizes, *offsets = m->offsets;
	uint32_t os = m->off_state, ss = m->size_state;
	void *p = NULL;
	for (int64_t i = 0; i < n; i++) {
		os = lcg_next(os);
		uint32_t j = offsets[(os >> 16) & (CPEER_MIX_OFFSETS - 1)];
		ss = lcg_next(ss);
		uint32_t size = sizes[(ss >> 16) & (CPEER_MIX_SIZES - 1)];
		free(slots[j]);
		p = malloc(size);
		*(volatile char *)p = (char)i;
		if (m->touch)
			touch_pages(p, size);
		slots[j] = p;
	}
	m->off_state = os;
	m->size_state = ss;
	cpeer_sink = p;
}

void cpeer_mix_close(cpeer_mix *m) {
	for (uint32_t j = 0; j < m->nslots; j++) {
		free(m->slots[j]);
		m->slots[j] = NULL;
	}
}

// The ring of bench.Ring: indices published once per CPEER_RING_PUBLISH
// blocks, each on its own cache line.
typedef struct {
	_Alignas(64) _Atomic int64_t tail;
	_Alignas(64) _Atomic int64_t head;
	_Alignas(64) void *slot[CPEER_RING_SIZE];
	int64_t n;
} ring;

enum { RING_SPINS = 128 };

static void *consume(void *arg) {
	ring *r = arg;
	int64_t n = r->n, spins = 0;
	for (int64_t h = 0; h < n;) {
		int64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (t == h) {
			if (++spins % RING_SPINS == 0)
				sched_yield();
			continue;
		}
		for (; h < t; h++) {
			free(r->slot[h & (CPEER_RING_SIZE - 1)]);
			if (((h + 1) & (CPEER_RING_PUBLISH - 1)) == 0)
				atomic_store_explicit(&r->head, h + 1, memory_order_release);
		}
	}
	atomic_store_explicit(&r->head, n, memory_order_release);
	return NULL;
}

int cpeer_prodcons(size_t size, int64_t n) {
	ring *r = aligned_alloc(64, sizeof(ring));
	if (r == NULL)
		return -1;
	atomic_store(&r->tail, 0);
	atomic_store(&r->head, 0);
	r->n = n;
	pthread_t consumer;
	int err = pthread_create(&consumer, NULL, consume, r);
	if (err != 0) {
		free(r);
		return err;
	}
	int64_t head = 0, spins = 0;
	for (int64_t i = 0; i < n; i++) {
		while (i - head >= CPEER_RING_SIZE) {
			head = atomic_load_explicit(&r->head, memory_order_acquire);
			if (i - head >= CPEER_RING_SIZE && ++spins % RING_SPINS == 0)
				sched_yield();
		}
		void *p = malloc(size);
		*(volatile char *)p = (char)i;
		r->slot[i & (CPEER_RING_SIZE - 1)] = p;
		if (((i + 1) & (CPEER_RING_PUBLISH - 1)) == 0)
			atomic_store_explicit(&r->tail, i + 1, memory_order_release);
	}
	atomic_store_explicit(&r->tail, n, memory_order_release);
	err = pthread_join(consumer, NULL);
	free(r);
	return err;
}
