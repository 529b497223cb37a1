// The workloads of package bench that run threads of their own, written in
// C with the same rules, tables and generators as their Go loops (see
// bench/larson.go, xmalloc.go, alloctest.go, rptest.go, mstress.go,
// scratch.go and simple.go for the rules and where they come from). Every
// function returns 0, or an error number (pthread's, or -1 when memory for
// the harness cannot be had, or -2 for a block found corrupt).
#ifndef OFFHEAP_BENCH_CPEER_WORKLOADS_H
#define OFFHEAP_BENCH_CPEER_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

// Must equal the Go constants (TestConstants checks).
enum {
	CPEER_LARSON_SLOTS = 5000,
	CPEER_LARSON_MIN = 8,
	CPEER_LARSON_MAX = 1000,
	CPEER_LARSON_SEED = 4141,
	CPEER_XMALLOC_BATCH = 4096,
	CPEER_XMALLOC_LIMIT = 100,
	CPEER_ALLOCTEST_SEED = 41,
	CPEER_RP_SIZES = 2000,
	CPEER_RP_ALLOC_OPS = 311,
	CPEER_RP_FREE_OPS = 257,
	CPEER_SCRATCH_REPETITIONS = 2000,
	CPEER_HEAPJOB_SIZES = 8192, // bench.MixSizes: the size table heap-destroy draws from
};

#define CPEER_LARSON_GEN (100 * CPEER_LARSON_SLOTS)

void cpeer_simple(size_t size, int nblocks, int64_t n);

typedef struct cpeer_larson cpeer_larson;
cpeer_larson *cpeer_larson_new(int threads);
int cpeer_larson_run(cpeer_larson *w, int64_t n);
void cpeer_larson_close(cpeer_larson *w);

int cpeer_xmalloc_run(int threads, size_t size, int64_t n);

typedef struct cpeer_alloctest cpeer_alloctest;
cpeer_alloctest *cpeer_alloctest_new(uint32_t items);
void cpeer_alloctest_run(cpeer_alloctest *w, int64_t n);
void cpeer_alloctest_close(cpeer_alloctest *w);

typedef struct cpeer_rptest cpeer_rptest;
cpeer_rptest *cpeer_rptest_new(int threads, const uint32_t *sizes, const uint32_t *alloc_ops, const uint32_t *free_ops);
int cpeer_rptest_run(cpeer_rptest *w, int64_t n);
void cpeer_rptest_close(cpeer_rptest *w);

typedef struct cpeer_mstress cpeer_mstress;
cpeer_mstress *cpeer_mstress_new(int threads);
int cpeer_mstress_run(cpeer_mstress *w, int64_t n);
int cpeer_mstress_close(cpeer_mstress *w);

int cpeer_scratch_run(int threads, size_t size, int64_t n);

// The churn: n live values of min-max bytes (bench.ChurnSpec's share of
// one worker), generator state seed (bench.ChurnSeed).
typedef struct cpeer_churn cpeer_churn;
cpeer_churn *cpeer_churn_new(int64_t n, uint32_t min, uint32_t max, uint64_t seed);
void cpeer_churn_run(cpeer_churn *w, int64_t ops);
void cpeer_churn_close(cpeer_churn *w);
// cpeer_churn_draws writes the first k draws (slot, size) of the churn's
// generator from seed, for the test that compares them with Go's.
void cpeer_churn_draws(uint64_t seed, int64_t n, uint32_t min, uint32_t span, int k, int64_t *slots, uint32_t *sizes);

// heap-destroy (bench/heapjob.go): jobs of nslots blocks whose sizes are
// drawn from sizes (CPEER_HEAPJOB_SIZES entries, random-live's table) with
// the mixed workloads' generator from seed; destroy drops each job whole
// through the allocator's own heaps where it has them (mimalloc, jemalloc),
// else every block is freed. cpeer_heapjob_heaps reports whether it has.
typedef struct cpeer_heapjob cpeer_heapjob;
int cpeer_heapjob_heaps(void);
cpeer_heapjob *cpeer_heapjob_new(int64_t nslots, const uint32_t *sizes, uint32_t seed, int destroy);
int cpeer_heapjob_run(cpeer_heapjob *w, int64_t n);
void cpeer_heapjob_close(cpeer_heapjob *w);
// cpeer_heapjob_sizes writes the first k sizes a job draws from seed, for
// the test that compares them with Go's.
void cpeer_heapjob_sizes(const uint32_t *sizes, uint32_t seed, int k, uint32_t *out);

#endif
