// The multi-threaded workloads of package bench in C: each function is
// the Go loop of the same name, statement for statement (bench/larson.go,
// xmalloc.go, alloctest.go, rptest.go, mstress.go, scratch.go,
// simple.go), with threads where Go has goroutines. Whatever malloc the
// binary links serves them.

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workloads.h"

extern void *volatile cpeer_sink;
static _Atomic uint64_t sink_word;

static int64_t share(int64_t n, int threads, int i) {
	int64_t q = n / threads;
	if (i < n % threads)
		q++;
	return q;
}

// ---- bench-malloc-simple

void cpeer_simple(size_t size, int nblocks, int64_t n) {
	void *slots[1600];
	if (nblocks > 1600)
		nblocks = 1600;
	while (n > 0) {
		int k = n < nblocks ? (int)n : nblocks;
		for (int i = 0; i < k; i++)
			slots[i] = malloc(size);
		for (int i = 0; i < k; i++)
			free(slots[i]);
		n -= k;
	}
	cpeer_sink = slots[0];
}

// ---- larson

typedef struct {
	long x, y, v[97];
} lran2_st;

enum { LRAN2_MAX = 714025, LRAN2_IA = 1366, LRAN2_IC = 150889 };

static void lran2_init(lran2_st *d, long seed) {
	long x = (LRAN2_IC - seed) % LRAN2_MAX;
	if (x < 0)
		x = -x;
	for (int j = 0; j < 97; j++) {
		x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
		d->v[j] = x;
	}
	d->x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
	d->y = d->x;
}

static long lran2(lran2_st *d) {
	int j = (int)(d->y % 97);
	d->y = d->v[j];
	d->x = (LRAN2_IA * d->x + LRAN2_IC) % LRAN2_MAX;
	d->v[j] = d->x;
	return d->y;
}

static size_t larson_size(lran2_st *r) {
	return CPEER_LARSON_MIN + (size_t)(lran2(r) % (CPEER_LARSON_MAX - CPEER_LARSON_MIN));
}

typedef struct larson_thread larson_thread;

struct cpeer_larson {
	int threads;
	void **blocks; // threads x CPEER_LARSON_SLOTS
	lran2_st *rng;
	int64_t *gen_left;
	larson_thread *t;
	// chains still running in this run, and their first error
	pthread_mutex_t mu;
	pthread_cond_t done;
	int running, err;
};

struct larson_thread {
	cpeer_larson *w;
	int i;
	int64_t left;
};

cpeer_larson *cpeer_larson_new(int threads) {
	cpeer_larson *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	int total = threads * CPEER_LARSON_SLOTS;
	w->threads = threads;
	w->blocks = calloc((size_t)total, sizeof(void *));
	w->rng = calloc((size_t)threads, sizeof(lran2_st));
	w->gen_left = calloc((size_t)threads, sizeof(int64_t));
	w->t = calloc((size_t)threads, sizeof(larson_thread));
	if (!w->blocks || !w->rng || !w->gen_left || !w->t)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->done, NULL);
	lran2_st rg;
	lran2_init(&rg, CPEER_LARSON_SEED);
	void **blk = w->blocks;
	for (int i = 0; i < total; i++)
		blk[i] = malloc(larson_size(&rg));
	for (int c = total; c > 0; c--) {
		int v = (int)(lran2(&rg) % c);
		void *tmp = blk[v];
		blk[v] = blk[c - 1];
		blk[c - 1] = tmp;
	}
	for (int c = 0; c < 4 * total; c++) {
		int v = (int)(lran2(&rg) % total);
		free(blk[v]);
		blk[v] = malloc(larson_size(&rg));
	}
	for (int i = 0; i < threads; i++) {
		lran2_init(&w->rng[i], lran2(&rg));
		w->gen_left[i] = CPEER_LARSON_GEN;
	}
	return w;
}

static void larson_end_chain(cpeer_larson *w, int err) {
	pthread_mutex_lock(&w->mu);
	if (err != 0 && w->err == 0)
		w->err = err;
	if (--w->running == 0)
		pthread_cond_signal(&w->done);
	pthread_mutex_unlock(&w->mu);
}

// larson_generation is one thread's life: at most gen_left replacements,
// then, with work left, a successor thread (detached, as in larson).
static void *larson_generation(void *arg) {
	larson_thread *t = arg;
	cpeer_larson *w = t->w;
	int i = t->i;
	void **slots = w->blocks + (size_t)i * CPEER_LARSON_SLOTS;
	lran2_st *r = &w->rng[i];
	int64_t g = t->left < w->gen_left[i] ? t->left : w->gen_left[i];
	char acc = 0;
	for (int64_t k = 0; k < g; k++) {
		long v = lran2(r) % CPEER_LARSON_SLOTS;
		free(slots[v]);
		volatile char *p = malloc(larson_size(r));
		p[0] = 'a';
		acc += p[0];
		p[1] = 'b';
		slots[v] = (void *)p;
	}
	atomic_fetch_add(&sink_word, (uint64_t)acc);
	w->gen_left[i] -= g;
	if (w->gen_left[i] == 0)
		w->gen_left[i] = CPEER_LARSON_GEN;
	t->left -= g;
	if (t->left > 0) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_t next;
		int err = pthread_create(&next, &attr, larson_generation, t);
		pthread_attr_destroy(&attr);
		if (err != 0)
			larson_end_chain(w, err);
		return NULL;
	}
	larson_end_chain(w, 0);
	return NULL;
}

int cpeer_larson_run(cpeer_larson *w, int64_t n) {
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	w->err = 0;
	w->running = 0;
	int err = 0;
	for (int i = 0; i < w->threads; i++) {
		larson_thread *t = &w->t[i];
		t->w = w;
		t->i = i;
		t->left = share(n, w->threads, i);
		if (t->left == 0)
			continue;
		pthread_mutex_lock(&w->mu);
		w->running++;
		pthread_mutex_unlock(&w->mu);
		pthread_t th;
		if ((err = pthread_create(&th, &attr, larson_generation, t)) != 0) {
			larson_end_chain(w, 0);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&w->mu);
	while (w->running > 0)
		pthread_cond_wait(&w->done, &w->mu);
	if (err == 0)
		err = w->err;
	pthread_mutex_unlock(&w->mu);
	return err;
}

void cpeer_larson_close(cpeer_larson *w) {
	if (w == NULL)
		return;
	for (int i = 0; i < w->threads * CPEER_LARSON_SLOTS; i++)
		free(w->blocks[i]);
	free(w->blocks);
	free(w->rng);
	free(w->gen_left);
	free(w->t);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->done);
	free(w);
}

// ---- xmalloc-test

typedef struct batch {
	struct batch *next;
	void *objects[CPEER_XMALLOC_BATCH];
} batch;

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t empty, full;
	batch *top;
	int count;
	int64_t left;
	size_t size;
	int64_t *objects; // each producer's share
	int threads;
} batch_stack;

typedef struct {
	batch_stack *q;
	int i;
} xm_arg;

static void *xm_producer(void *arg) {
	xm_arg *a = arg;
	batch_stack *q = a->q;
	int64_t objects = q->objects[a->i];
	while (objects > 0) {
		batch *b = malloc(sizeof(batch));
		int64_t k = objects < CPEER_XMALLOC_BATCH ? objects : CPEER_XMALLOC_BATCH;
		for (int j = 0; j < CPEER_XMALLOC_BATCH; j++) {
			void *p = NULL;
			if (j < k) {
				p = malloc(q->size);
				memset(p, j % 256, q->size > 128 ? 128 : q->size);
			}
			b->objects[j] = p;
		}
		objects -= k;
		pthread_mutex_lock(&q->mu);
		while (q->count >= CPEER_XMALLOC_LIMIT)
			pthread_cond_wait(&q->full, &q->mu);
		b->next = q->top;
		q->top = b;
		q->count++;
		pthread_cond_signal(&q->empty);
		pthread_mutex_unlock(&q->mu);
	}
	return NULL;
}

static void *xm_consumer(void *arg) {
	batch_stack *q = ((xm_arg *)arg)->q;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->top == NULL && q->left > 0)
			pthread_cond_wait(&q->empty, &q->mu);
		batch *b = q->top;
		if (b == NULL) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		q->top = b->next;
		q->count--;
		if (--q->left == 0)
			pthread_cond_broadcast(&q->empty);
		pthread_cond_signal(&q->full);
		pthread_mutex_unlock(&q->mu);
		for (int j = 0; j < CPEER_XMALLOC_BATCH; j++)
			if (b->objects[j] != NULL)
				free(b->objects[j]);
		free(b);
	}
}

int cpeer_xmalloc_run(int threads, size_t size, int64_t n) {
	batch_stack q = {.mu = PTHREAD_MUTEX_INITIALIZER, .empty = PTHREAD_COND_INITIALIZER, .full = PTHREAD_COND_INITIALIZER,
			 .size = size, .threads = threads};
	int64_t objects[threads];
	xm_arg args[threads];
	pthread_t th[2 * threads];
	q.objects = objects;
	for (int i = 0; i < threads; i++) {
		objects[i] = share(n, threads, i);
		q.left += (objects[i] + CPEER_XMALLOC_BATCH - 1) / CPEER_XMALLOC_BATCH;
		args[i] = (xm_arg){&q, i};
	}
	int started = 0, err = 0;
	for (int i = 0; i < threads && err == 0; i++) {
		if ((err = pthread_create(&th[started], NULL, xm_producer, &args[i])) == 0)
			started++;
		if (err == 0 && (err = pthread_create(&th[started], NULL, xm_consumer, &args[i])) == 0)
			started++;
	}
	if (err != 0)
		abort(); // the threads started would wait forever for the missing ones
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return 0;
}

// ---- alloc-test

typedef struct {
	uint8_t *p;
	uint32_t sz;
} at_slot;

struct cpeer_alloctest {
	at_slot *slots;
	uint32_t items;
	uint64_t seed;
	uint32_t ranges[6];
	uint32_t offsets[8];
	uint64_t acc;
};

static uint32_t at_rng32(cpeer_alloctest *w) {
	uint64_t ret = w->seed * 0xd989bcacc137dcd5ull;
	w->seed ^= w->seed >> 11;
	w->seed ^= w->seed << 31;
	w->seed ^= w->seed >> 18;
	return (uint32_t)(ret >> 32);
}

static uint64_t at_rng64(cpeer_alloctest *w) {
	uint64_t hi = at_rng32(w);
	return (hi << 32) + at_rng32(w);
}

static size_t at_size(uint64_t r) {
	const unsigned exp = 10 - 3;
	uint32_t base = (uint32_t)(r & ((1u << exp) - 1)) + 1;
	r >>= exp;
	unsigned idx = (unsigned)__builtin_ctz(base) + 2;
	return (size_t)(r & ((1ull << idx) - 1)) + 1 + ((size_t)1 << idx);
}

static const double pareto_w[7] = {0.262144, 0.393216, 0.245760, 0.081920, 0.015360, 0.001536, 0.000064};

static void at_alloc(cpeer_alloctest *w, uint32_t i) {
	size_t sz = at_size(at_rng64(w));
	uint8_t *p = malloc(sz);
	memset(p, (uint8_t)sz, sz);
	w->slots[i].p = p;
	w->slots[i].sz = (uint32_t)sz;
}

static void at_free(cpeer_alloctest *w, uint32_t i) {
	at_slot *s = &w->slots[i];
	uint64_t acc = 0;
	size_t j = 0;
	for (; j + 8 <= s->sz; j += 8) {
		uint64_t v;
		memcpy(&v, s->p + j, 8);
		acc += v;
	}
	for (; j < s->sz; j++)
		acc += s->p[j];
	w->acc += acc;
	free(s->p);
	s->p = NULL;
	s->sz = 0;
}

cpeer_alloctest *cpeer_alloctest_new(uint32_t items) {
	cpeer_alloctest *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->slots = calloc(items, sizeof(at_slot))) == NULL)
		return NULL;
	w->items = items;
	w->seed = CPEER_ALLOCTEST_SEED;
	w->ranges[0] = (uint32_t)(UINT32_MAX * pareto_w[0]);
	w->ranges[5] = (uint32_t)(UINT32_MAX * (1. - pareto_w[6]));
	for (int i = 1; i < 5; i++)
		w->ranges[i] = w->ranges[i - 1] + (uint32_t)(UINT32_MAX * pareto_w[i]);
	w->offsets[0] = 0;
	w->offsets[7] = items;
	for (int i = 0; i < 6; i++)
		w->offsets[i + 1] = w->offsets[i] + (uint32_t)(items * pareto_w[6 - i]);
	for (uint32_t i = 0; i < items / 32; i++) {
		uint32_t bits = at_rng32(w);
		for (uint32_t j = 0; j < 32; j++)
			if ((bits >> j) & 1)
				at_alloc(w, i * 32 + j);
	}
	return w;
}

void cpeer_alloctest_run(cpeer_alloctest *w, int64_t n) {
	for (int64_t k = 0; k < 2 * n; k++) {
		uint32_t r1 = at_rng32(w);
		uint32_t r2 = at_rng32(w);
		int idx = 6;
		for (int i = 0; i < 6; i++)
			if (r1 < w->ranges[i]) {
				idx = i;
				break;
			}
		uint32_t i = w->offsets[idx] + r2 % (w->offsets[idx + 1] - w->offsets[idx]);
		if (w->slots[i].p != NULL)
			at_free(w, i);
		else
			at_alloc(w, i);
	}
	atomic_store(&sink_word, w->acc);
}

void cpeer_alloctest_close(cpeer_alloctest *w) {
	if (w == NULL)
		return;
	for (uint32_t i = 0; i < w->items; i++)
		if (w->slots[i].p != NULL)
			at_free(w, i);
	free(w->slots);
	free(w);
}

// ---- rptest

enum {
	RP_SLOTS = 1000,
	RP_LOOPS = 500,
	RP_CROSS_RATE = 2,
	RP_ALLOC_SCATTER = 7,
	RP_FREE_SCATTER = 11,
};

// A hand-over list: a header block of four words and an array block.
typedef struct rp_header {
	void **arr;
	uintptr_t count;
	struct rp_header *next;
	uintptr_t unused;
} rp_header;

typedef struct {
	void **slots;
	_Atomic(rp_header *) foreign;
	int alloc_idx, free_idx, size_idx, iter, loop, cross, index;
	int64_t quota;
	struct cpeer_rptest *w;
} rp_thread;

struct cpeer_rptest {
	int threads;
	const uint32_t *sizes, *alloc_ops, *free_ops;
	rp_thread *t;
	atomic_int running;   // threads with a share in the current run (less those not started)
	atomic_int finished;  // of those, the ones that finished it
};

static int rp_start_index(int thread, int iter) { return ((thread + 1) * ((iter + 1) * 37)) % CPEER_RP_SIZES; }

cpeer_rptest *cpeer_rptest_new(int threads, const uint32_t *sizes, const uint32_t *alloc_ops, const uint32_t *free_ops) {
	cpeer_rptest *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->t = calloc((size_t)threads, sizeof(rp_thread))) == NULL)
		return NULL;
	w->threads = threads;
	w->sizes = sizes;
	w->alloc_ops = alloc_ops;
	w->free_ops = free_ops;
	for (int i = 0; i < threads; i++) {
		rp_thread *t = &w->t[i];
		if ((t->slots = calloc(RP_SLOTS, sizeof(void *))) == NULL)
			return NULL;
		t->index = i;
		t->w = w;
		t->size_idx = rp_start_index(i, 0);
		atomic_init(&t->foreign, NULL);
	}
	return w;
}

static void *rp_new_block(cpeer_rptest *w, rp_thread *t) {
	size_t size = w->sizes[(t->size_idx + 2) % CPEER_RP_SIZES];
	char *p = malloc(size);
	*(int32_t *)p = (int32_t)size;
	size_t pages = (size - 1) / 4096;
	for (size_t page = 1; page < pages; page++)
		p[page * 4096] = 1;
	p[size - 1] = 1;
	t->size_idx = (t->size_idx + 1) % CPEER_RP_SIZES;
	return p;
}

static void rp_free_lists(rp_header *h) {
	while (h != NULL) {
		for (uintptr_t i = 0; i < h->count; i++)
			free(h->arr[i]);
		rp_header *next = h->next;
		free(h->arr);
		free(h);
		h = next;
	}
}

static void *rp_run(void *arg) {
	rp_thread *t = arg;
	cpeer_rptest *w = t->w;
	void **slots = t->slots;
	int64_t quota = t->quota;
	while (quota > 0) {
		rp_header *foreign = atomic_exchange(&t->foreign, NULL);
		int frees = (int)w->free_ops[(t->iter + t->loop) % CPEER_RP_FREE_OPS];
		for (int k = 0; k < frees; k++) {
			if (slots[t->free_idx] != NULL) {
				free(slots[t->free_idx]);
				slots[t->free_idx] = NULL;
			}
			t->free_idx = (t->free_idx + RP_FREE_SCATTER) % RP_SLOTS;
		}
		rp_free_lists(foreign);
		int64_t allocs = w->alloc_ops[(t->iter + t->loop) % CPEER_RP_ALLOC_OPS];
		if (allocs > quota)
			allocs = quota;
		for (int64_t k = 0; k < allocs; k++) {
			if (slots[t->alloc_idx] != NULL)
				free(slots[t->alloc_idx]);
			slots[t->alloc_idx] = rp_new_block(w, t);
			t->alloc_idx = (t->alloc_idx + RP_ALLOC_SCATTER) % RP_SLOTS;
		}
		quota -= allocs;
		if (w->threads > 1 && t->loop % RP_CROSS_RATE == 0 && quota > 0 && atomic_load(&w->finished) == 0) {
			int64_t k = w->alloc_ops[(t->iter + t->loop) % CPEER_RP_ALLOC_OPS];
			if (k > quota)
				k = quota;
			rp_header *h = malloc(sizeof(rp_header));
			h->arr = malloc(sizeof(void *) * (size_t)k);
			for (int64_t i = 0; i < k; i++)
				h->arr[i] = rp_new_block(w, t);
			h->count = (uintptr_t)k;
			quota -= k;
			t->cross = (t->cross + 1) % w->threads;
			if (t->cross == t->index)
				t->cross = (t->cross + 1) % w->threads;
			_Atomic(rp_header *) *dst = &w->t[t->cross].foreign;
			rp_header *old = atomic_load(dst);
			do
				h->next = old;
			while (!atomic_compare_exchange_weak(dst, &old, h));
		}
		if (++t->loop == RP_LOOPS) {
			for (int i = 0; i < RP_SLOTS; i++)
				if (slots[i] != NULL) {
					free(slots[i]);
					slots[i] = NULL;
				}
			t->loop = 0;
			t->iter = (t->iter + 1) % 2;
			t->size_idx = rp_start_index(t->index, t->iter);
		}
	}
	// Done: free what the others hand over until they are done too.
	atomic_fetch_add(&w->finished, 1);
	for (;;) {
		int last = atomic_load(&w->finished) == atomic_load(&w->running);
		rp_free_lists(atomic_exchange(&t->foreign, NULL));
		if (last)
			return NULL;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
}

int cpeer_rptest_run(cpeer_rptest *w, int64_t n) {
	pthread_t th[w->threads];
	int started[w->threads];
	int err = 0;
	int running = 0;
	for (int i = 0; i < w->threads; i++)
		if (share(n, w->threads, i) > 0)
			running++;
	atomic_store(&w->running, running);
	atomic_store(&w->finished, 0);
	for (int i = 0; i < w->threads; i++) {
		w->t[i].quota = share(n, w->threads, i);
		started[i] = 0;
		if (w->t[i].quota > 0 && err == 0) {
			err = pthread_create(&th[i], NULL, rp_run, &w->t[i]);
			started[i] = err == 0;
		}
		if (w->t[i].quota > 0 && !started[i])
			atomic_fetch_sub(&w->running, 1); // the started ones must not wait for it
	}
	for (int i = 0; i < w->threads; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	return err;
}

void cpeer_rptest_close(cpeer_rptest *w) {
	if (w == NULL)
		return;
	for (int i = 0; i < w->threads; i++) {
		rp_thread *t = &w->t[i];
		rp_free_lists(atomic_exchange(&t->foreign, NULL));
		for (int j = 0; j < RP_SLOTS; j++)
			free(t->slots[j]);
		free(t->slots);
	}
	free(w->t);
	free(w);
}

// ---- mstress

enum { MS_SCALE = 50, MS_TRANSFERS = 1000, MS_MAX_ITEM = 128 };
static const uint64_t ms_cookie = 0xbf58476d1ce4e5b9ull;

typedef struct {
	int tid;
	uint64_t r;
	int64_t allocs, retain, life_allocs;
	void **data, **retained;
	int64_t data_size, data_top, retain_top;
	int started;
	int64_t quota;
	int err;
	struct cpeer_mstress *w;
} ms_thread;

struct cpeer_mstress {
	int threads;
	ms_thread *t;
	_Atomic(void *) transfer[MS_TRANSFERS];
};

static uint64_t ms_pick(ms_thread *t) {
	uint64_t x = t->r;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	t->r = x;
	return x;
}

static int ms_chance(ms_thread *t, uint64_t perc) { return ms_pick(t) % 100 <= perc; }

static void *ms_alloc_items(ms_thread *t, size_t items) {
	if (ms_chance(t, 1))
		items *= 100;
	if (items == 40)
		items++;
	uint64_t *p = malloc(items * 8);
	for (size_t i = 0; i < items; i++)
		p[i] = (items - i) ^ ms_cookie;
	return p;
}

static int ms_free_items(void *q) {
	if (q == NULL)
		return 0;
	uint64_t *p = q;
	uint64_t items = p[0] ^ ms_cookie;
	for (uint64_t i = 0; i < items; i++)
		if ((p[i] ^ ms_cookie) != items - i)
			return -2;
	free(p);
	return 0;
}

static void ms_start_life(ms_thread *t) {
	t->allocs = t->life_allocs;
	t->retain = t->life_allocs / 2;
	t->data = NULL;
	t->data_size = t->data_top = 0;
	t->retained = realloc(NULL, (size_t)t->retain * 8);
	t->retain_top = 0;
	t->started = 1;
}

static int ms_end_life(ms_thread *t) {
	int err = 0;
	for (int64_t i = 0; i < t->retain_top; i++)
		err |= ms_free_items(t->retained[i]);
	for (int64_t i = 0; i < t->data_top; i++)
		err |= ms_free_items(t->data[i]);
	free(t->retained);
	free(t->data);
	t->retained = t->data = NULL;
	t->started = 0;
	return err;
}

static int ms_step(cpeer_mstress *w, ms_thread *t) {
	int err = 0;
	if (!t->started)
		ms_start_life(t);
	if (t->retain == 0 || (ms_chance(t, 50) && t->allocs > 0)) {
		t->allocs--;
		if (t->data_top >= t->data_size) {
			t->data_size += 100000;
			t->data = realloc(t->data, (size_t)t->data_size * 8);
		}
		t->data[t->data_top] = ms_alloc_items(t, ms_pick(t) % MS_MAX_ITEM + 1);
		t->data_top++;
	} else {
		t->retained[t->retain_top] = ms_alloc_items(t, 10 * (ms_pick(t) % (10 * MS_MAX_ITEM) + 1));
		t->retain_top++;
		t->retain--;
	}
	if (ms_chance(t, 66) && t->data_top > 0) {
		int64_t idx = (int64_t)(ms_pick(t) % (uint64_t)t->data_top);
		err |= ms_free_items(t->data[idx]);
		t->data[idx] = NULL;
	}
	if (ms_chance(t, 25) && t->data_top > 0) {
		int64_t idx = (int64_t)(ms_pick(t) % (uint64_t)t->data_top);
		_Atomic(void *) *slot = &w->transfer[ms_pick(t) % MS_TRANSFERS];
		t->data[idx] = atomic_exchange(slot, t->data[idx]);
	}
	if (t->allocs == 0 && t->retain == 0)
		err |= ms_end_life(t);
	return err;
}

cpeer_mstress *cpeer_mstress_new(int threads) {
	cpeer_mstress *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->t = calloc((size_t)threads, sizeof(ms_thread))) == NULL)
		return NULL;
	w->threads = threads;
	int n = MS_SCALE / threads;
	if (n < 1)
		n = 1;
	for (int tid = 0; tid < threads; tid++) {
		ms_thread *t = &w->t[tid];
		t->tid = tid;
		t->r = (uint64_t)tid ^ 42;
		t->life_allocs = 80 * n * (tid % 8 + 1);
		t->w = w;
	}
	for (int i = 0; i < MS_TRANSFERS; i++)
		atomic_init(&w->transfer[i], NULL);
	return w;
}

static void *ms_run(void *arg) {
	ms_thread *t = arg;
	for (int64_t k = 0; k < t->quota && t->err == 0; k++)
		t->err = ms_step(t->w, t);
	return NULL;
}

int cpeer_mstress_run(cpeer_mstress *w, int64_t n) {
	pthread_t th[w->threads];
	int started[w->threads];
	int err = 0;
	for (int i = 0; i < w->threads; i++) {
		ms_thread *t = &w->t[i];
		t->quota = share(n, w->threads, i);
		t->err = 0;
		started[i] = 0;
		if (t->quota > 0 && err == 0) {
			err = pthread_create(&th[i], NULL, ms_run, t);
			started[i] = err == 0;
		}
	}
	for (int i = 0; i < w->threads; i++)
		if (started[i]) {
			pthread_join(th[i], NULL);
			if (err == 0)
				err = w->t[i].err;
		}
	return err;
}

int cpeer_mstress_close(cpeer_mstress *w) {
	if (w == NULL)
		return 0;
	int err = 0;
	for (int i = 0; i < w->threads; i++)
		if (w->t[i].started)
			err |= ms_end_life(&w->t[i]);
	for (int i = 0; i < MS_TRANSFERS; i++)
		err |= ms_free_items(atomic_exchange(&w->transfer[i], NULL));
	free(w->t);
	free(w);
	return err;
}

// ---- cache-scratch

typedef struct {
	void *obj;
	size_t size;
	int64_t n;
	int writes;
} scratch_arg;

static void *scratch_worker(void *arg) {
	scratch_arg *a = arg;
	free(a->obj);
	char acc = 0;
	// Locals, as the source's: a store through a char pointer may alias
	// a->size and a->writes, which the loop would then read again after
	// every byte it writes.
	size_t size = a->size;
	int writes = a->writes;
	for (int64_t i = 0; i < a->n; i++) {
		volatile char *obj = malloc(size);
		for (int j = 0; j < writes; j++)
			for (size_t k = 0; k < size; k++) {
				obj[k] = (char)k;
				acc += obj[k];
			}
		free((void *)obj);
	}
	atomic_fetch_add(&sink_word, (uint64_t)acc);
	return NULL;
}

int cpeer_scratch_run(int threads, size_t size, int64_t n) {
	pthread_t th[threads];
	scratch_arg args[threads];
	for (int i = 0; i < threads; i++)
		args[i] = (scratch_arg){malloc(size), size, share(n, threads, i), CPEER_SCRATCH_REPETITIONS / threads};
	int err = 0, started = 0;
	for (; started < threads; started++)
		if ((err = pthread_create(&th[started], NULL, scratch_worker, &args[started])) != 0)
			break;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (int i = started; i < threads; i++)
		free(args[i].obj);
	return err;
}

// ---- churn (bench/churn.go)

struct cpeer_churn {
	void **slots;
	int64_t n;
	uint32_t min, span;
	uint64_t rng;
};

// churn_next is bench.ChurnNext: xorshift64 (13, 7, 17).
static inline uint64_t churn_next(uint64_t *x) {
	uint64_t v = *x;
	v ^= v << 13;
	v ^= v >> 7;
	v ^= v << 17;
	*x = v;
	return v;
}

// churn_draw is bench.ChurnDraw: the slot from the high 32 bits, scaled to
// n, and the size from the low 32.
static inline void churn_draw(uint64_t x, int64_t n, uint32_t min, uint32_t span, int64_t *slot, size_t *size) {
	*slot = (int64_t)(((x >> 32) * (uint64_t)n) >> 32);
	*size = min + (uint32_t)x % span;
}

cpeer_churn *cpeer_churn_new(int64_t n, uint32_t min, uint32_t max, uint64_t seed) {
	cpeer_churn *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->slots = calloc((size_t)n, sizeof(void *))) == NULL) {
		free(w);
		return NULL;
	}
	w->n = n;
	w->min = min;
	w->span = max - min + 1;
	w->rng = seed;
	for (int64_t j = 0; j < n; j++) {
		int64_t slot;
		size_t size;
		churn_draw(churn_next(&w->rng), n, w->min, w->span, &slot, &size);
		void *p = malloc(size);
		memset(p, (uint8_t)j, size);
		w->slots[j] = p;
	}
	return w;
}

void cpeer_churn_run(cpeer_churn *w, int64_t ops) {
	void **slots = w->slots;
	int64_t n = w->n;
	uint32_t min = w->min, span = w->span;
	uint64_t r = w->rng;
	void *p = NULL;
	for (int64_t i = 0; i < ops; i++) {
		int64_t j;
		size_t size;
		churn_draw(churn_next(&r), n, min, span, &j, &size);
		free(slots[j]);
		p = malloc(size);
		memset(p, (uint8_t)i, size);
		slots[j] = p;
	}
	w->rng = r;
	cpeer_sink = p;
}

void cpeer_churn_draws(uint64_t seed, int64_t n, uint32_t min, uint32_t span, int k, int64_t *slots, uint32_t *sizes) {
	for (int i = 0; i < k; i++) {
		int64_t slot;
		size_t size;
		churn_draw(churn_next(&seed), n, min, span, &slot, &size);
		slots[i] = slot;
		sizes[i] = (uint32_t)size;
	}
}

void cpeer_churn_close(cpeer_churn *w) {
	if (w == NULL)
		return;
	for (int64_t j = 0; j < w->n; j++)
		free(w->slots[j]);
	free(w->slots);
	free(w);
}

// ---- heap-destroy (bench/heapjob.go)

// A job's heap, where the allocator has heaps a job can drop whole:
// mimalloc's mi_heap_new / mi_heap_destroy; jemalloc's arena of its own
// (arenas.create, once) with a thread cache of its own per job
// (tcache.create), mallocx into them, then tcache.destroy and
// arena.<i>.reset, which discards every block and keeps the arena and its
// pages for the next job (arena.<i>.destroy per job gave the pages back,
// and every job faulted its 55 MB in again: 325 ns per block against 73
// with reset, in one run). The API is declared here, as in lib_*.go, so
// that only the library is needed. glibc has no such heap: its jobs free
// each block.
#if defined(CPEER_MIMALLOC)
typedef struct mi_heap_s mi_heap_t;
mi_heap_t *mi_heap_new(void);
void *mi_heap_malloc(mi_heap_t *heap, size_t size);
void mi_heap_destroy(mi_heap_t *heap);

#define CPEER_JOB_HEAPS 1
typedef struct {
	mi_heap_t *heap;
} job_heap;

static int job_heap_new(job_heap *j) {
	j->heap = mi_heap_new();
	return j->heap == NULL ? -1 : 0;
}

static inline void *job_heap_malloc(job_heap *j, size_t n) { return mi_heap_malloc(j->heap, n); }

static int job_heap_drop(job_heap *j) {
	mi_heap_destroy(j->heap);
	return 0;
}
#elif defined(CPEER_JEMALLOC)
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
void *mallocx(size_t size, int flags);
// jemalloc.h's MALLOCX_ARENA and MALLOCX_TCACHE.
#define JOB_MALLOCX_ARENA(a) ((((int)(a)) + 1) << 20)
#define JOB_MALLOCX_TCACHE(tc) ((int)(((tc) + 2) << 8))

#define CPEER_JOB_HEAPS 1
typedef struct {
	unsigned tcache;
	int flags;
} job_heap;

// job_arena is the jobs' arena, created by the first job (heap-destroy
// runs on one thread); job_arena_reset is its "arena.<i>.reset".
static unsigned job_arena;
static char job_arena_reset[64];

static int job_heap_new(job_heap *j) {
	size_t n = sizeof(unsigned);
	if (job_arena_reset[0] == 0) {
		if (mallctl("arenas.create", &job_arena, &n, NULL, 0) != 0)
			return -1;
		snprintf(job_arena_reset, sizeof(job_arena_reset), "arena.%u.reset", job_arena);
	}
	n = sizeof(unsigned);
	if (mallctl("tcache.create", &j->tcache, &n, NULL, 0) != 0)
		return -1;
	j->flags = JOB_MALLOCX_ARENA(job_arena) | JOB_MALLOCX_TCACHE(j->tcache);
	return 0;
}

static inline void *job_heap_malloc(job_heap *j, size_t n) { return mallocx(n, j->flags); }

static int job_heap_drop(job_heap *j) {
	// The thread cache goes first: reset requires every cache that holds
	// the arena's blocks flushed.
	if (mallctl("tcache.destroy", NULL, NULL, &j->tcache, sizeof(j->tcache)) != 0)
		return -1;
	return mallctl(job_arena_reset, NULL, NULL, NULL, 0) != 0 ? -1 : 0;
}
#endif

struct cpeer_heapjob {
	void **slots;
	int64_t nslots;
	const uint32_t *sizes;
	uint32_t size_state;
	int destroy;
};

static inline uint32_t heapjob_lcg(uint32_t x) { return x * 1103515245u + 12345u; }

int cpeer_heapjob_heaps(void) {
#ifdef CPEER_JOB_HEAPS
	return 1;
#else
	return 0;
#endif
}

cpeer_heapjob *cpeer_heapjob_new(int64_t nslots, const uint32_t *sizes, uint32_t seed, int destroy) {
	cpeer_heapjob *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->slots = calloc((size_t)nslots, sizeof(void *));
	if (w->slots == NULL) {
		free(w);
		return NULL;
	}
	w->nslots = nslots;
	w->sizes = sizes;
	w->size_state = seed;
	w->destroy = destroy && cpeer_heapjob_heaps();
	return w;
}

// heapjob_one builds k blocks and drops them (heapJobWorker.job).
static int heapjob_one(cpeer_heapjob *w, int64_t k) {
	void **slots = w->slots;
	const uint32_t *sizes = w->sizes;
	uint32_t ss = w->size_state;
#ifdef CPEER_JOB_HEAPS
	if (w->destroy) {
		job_heap h;
		if (job_heap_new(&h) != 0)
			return -1;
		for (int64_t i = 0; i < k; i++) {
			ss = heapjob_lcg(ss);
			char *p = job_heap_malloc(&h, sizes[(ss >> 16) & (CPEER_HEAPJOB_SIZES - 1)]);
			if (p == NULL)
				return -1;
			*(volatile char *)p = (char)i;
			slots[i] = p;
		}
		w->size_state = ss;
		cpeer_sink = slots[k - 1];
		memset(slots, 0, (size_t)k * sizeof(void *));
		return job_heap_drop(&h);
	}
#endif
	for (int64_t i = 0; i < k; i++) {
		ss = heapjob_lcg(ss);
		char *p = malloc(sizes[(ss >> 16) & (CPEER_HEAPJOB_SIZES - 1)]);
		if (p == NULL)
			return -1;
		*(volatile char *)p = (char)i;
		slots[i] = p;
	}
	w->size_state = ss;
	cpeer_sink = slots[k - 1];
	for (int64_t i = 0; i < k; i++) {
		free(slots[i]);
		slots[i] = NULL;
	}
	return 0;
}

int cpeer_heapjob_run(cpeer_heapjob *w, int64_t n) {
	while (n > 0) {
		int64_t k = n < w->nslots ? n : w->nslots;
		int err = heapjob_one(w, k);
		if (err != 0)
			return err;
		n -= k;
	}
	return 0;
}

void cpeer_heapjob_sizes(const uint32_t *sizes, uint32_t seed, int k, uint32_t *out) {
	for (int i = 0; i < k; i++) {
		seed = heapjob_lcg(seed);
		out[i] = sizes[(seed >> 16) & (CPEER_HEAPJOB_SIZES - 1)];
	}
}

void cpeer_heapjob_close(cpeer_heapjob *w) {
	if (w == NULL)
		return;
	free(w->slots);
	free(w);
}
