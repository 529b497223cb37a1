// Package cgotest runs glibc's malloc on threads of its own, next to
// offheap, for the coexistence test: a binary that links C (any cgo, and
// every -race build) has glibc's allocator moving the program break, so
// offheap must stay off it (package brk then uses a reserved range).
//
// The C side runs malloc, realloc and free loops on pthreads, with every
// block filled with a pattern and checked before it is freed; with
// M_ARENA_MAX 1 all of them share glibc's main arena, which grows and
// trims the break all the time.
package cgotest

/*
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 512, MAX_THREADS = 64 };

typedef struct {
	long iters;
	uint32_t seed;
	long errors;
	long ops;
	pthread_t tid;
} worker;

static worker workers[MAX_THREADS];
static int nworkers;

static uint32_t next_rand(uint32_t *s) {
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t pick_size(uint32_t r) {
	switch (r % 100) {
	case 0: return 128 * 1024 + (r >> 8) % (512 * 1024); // mapped by glibc (or its heap, as the threshold moves)
	case 1: case 2: case 3: return 4096 + (r >> 8) % (60 * 1024);
	default: return (r >> 8) % 1024;
	}
}

static void fill(unsigned char *b, size_t from, size_t to, unsigned tag) {
	for (size_t j = from; j < to; j++) b[j] = (unsigned char)(tag + j * 31);
}

static long check(const unsigned char *b, size_t n, unsigned tag) {
	for (size_t j = 0; j < n; j++)
		if (b[j] != (unsigned char)(tag + j * 31)) return 1;
	return 0;
}

static void *run(void *arg) {
	worker *w = arg;
	unsigned char *blocks[SLOTS] = {0};
	size_t sizes[SLOTS] = {0};
	unsigned tags[SLOTS] = {0};
	uint32_t s = w->seed | 1;
	for (long i = 0; i < w->iters; i++) {
		uint32_t r = next_rand(&s);
		int k = r % SLOTS;
		w->ops++;
		if (!blocks[k]) {
			size_t n = pick_size(next_rand(&s));
			unsigned char *b = malloc(n);
			if (!b) { w->errors++; continue; }
			tags[k] = r >> 16;
			fill(b, 0, n, tags[k]);
			blocks[k] = b;
			sizes[k] = n;
			continue;
		}
		w->errors += check(blocks[k], sizes[k], tags[k]);
		if ((r >> 12) % 4 == 0) {
			size_t n = pick_size(next_rand(&s)) + 1;
			unsigned char *b = realloc(blocks[k], n);
			if (!b) { w->errors++; continue; }
			size_t keep = n < sizes[k] ? n : sizes[k];
			w->errors += check(b, keep, tags[k]);
			fill(b, keep, n, tags[k]);
			blocks[k] = b;
			sizes[k] = n;
			continue;
		}
		free(blocks[k]);
		blocks[k] = 0;
	}
	for (int k = 0; k < SLOTS; k++) {
		if (blocks[k]) {
			w->errors += check(blocks[k], sizes[k], tags[k]);
			free(blocks[k]);
		}
	}
	return 0;
}

static int start(int n, long iters, uint32_t seed) {
	if (n > MAX_THREADS) n = MAX_THREADS;
	mallopt(M_ARENA_MAX, 1); // every thread on the main arena: on the break
	nworkers = 0;
	for (int i = 0; i < n; i++) {
		worker *w = &workers[i];
		memset(w, 0, sizeof *w);
		w->iters = iters;
		w->seed = seed * 2654435761u + (uint32_t)i * 40503u + 1;
		if (pthread_create(&w->tid, 0, run, w) != 0) return -1;
		nworkers++;
	}
	return nworkers;
}

static long join(long *ops) {
	long errors = 0;
	*ops = 0;
	for (int i = 0; i < nworkers; i++) {
		pthread_join(workers[i].tid, 0);
		errors += workers[i].errors;
		*ops += workers[i].ops;
	}
	nworkers = 0;
	return errors;
}

static uintptr_t glibc_break(void) { return (uintptr_t)sbrk(0); }
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Start starts threads pthreads that each run iters malloc, realloc or
// free operations on glibc's main arena, seeded by seed. Only one run may
// be under way at a time; Wait ends it.
func Start(threads, iters int, seed uint32) error {
	if C.start(C.int(threads), C.long(iters), C.uint32_t(seed)) < 0 {
		return errors.New("cgotest: pthread_create failed")
	}
	return nil
}

// Wait waits for the threads of Start and returns how many pattern
// mismatches or failed allocations they saw, and how many operations they
// made.
func Wait() (errs, ops int) {
	var o C.long
	e := C.join(&o)
	return int(e), int(o)
}

// GlibcBreak returns the program break as glibc knows it: sbrk(0), which
// answers from glibc's cached __curbrk.
func GlibcBreak() uintptr { return uintptr(C.glibc_break()) }

// Malloc calls glibc's malloc from the calling goroutine's thread.
func Malloc(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

// Free calls glibc's free.
func Free(p unsafe.Pointer) { C.free(p) }
