// firstmalloc times the first malloc of a C process: the native peers' row
// of the first-malloc workload (bench/first.go), and their figure in
// bench/cpeer's BenchmarkFirstMalloc. The runner compiles it with the C
// compiler for each C allocator (-ljemalloc, -lmimalloc, or nothing for
// glibc) and the cpeer child runs it once per sample.
//
//	firstmalloc [size]
//
// It calls malloc(size) (16 by default) first thing in main, between two
// readings of CLOCK_MONOTONIC (the clock read once before, so that its own
// first call, through the vDSO, is not in the figure), then writes one
// line of JSON, a bench.Sample of one operation: wall time, minor faults
// and resident memory. Nothing before the timed call allocates: sizes are
// parsed by hand and the program break is read with sbrk(0). Whether the
// heap had grown before main (something else called malloc first) is
// reported as heap_before: the break's distance from the start of the
// heap (/proc/self/stat's start_brk, read without stdio), 0 for a first
// call.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

// read_file reads up to size-1 bytes of the file at path into buf, ended
// by a 0, and returns how many, or -1.
static ssize_t read_file(const char *path, char *buf, size_t size) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t len = read(fd, buf, size - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	return len;
}

// stat_field returns field n (1-based) of /proc/self/stat, or -1; the
// second field, the command, may hold spaces and ends at the last ')'.
static long long stat_field(int n) {
	char buf[4096];
	if (read_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		return -1;
	char *p = NULL;
	for (char *q = buf; *q; q++)
		if (*q == ')')
			p = q;
	if (p == NULL)
		return -1;
	int field = 2;
	for (p++; *p && field < n; p++)
		if (*p == ' ')
			field++;
	if (field != n)
		return -1;
	long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return v;
}

static long long resident_bytes(void) {
	char buf[256];
	if (read_file("/proc/self/statm", buf, sizeof(buf)) < 0)
		return -1;
	char *p = buf;
	while (*p && *p != ' ')
		p++;
	long long pages = 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		pages = pages * 10 + (*p - '0');
	return pages * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
	size_t size = 0;
	for (const char *s = argc > 1 ? argv[1] : "16"; *s >= '0' && *s <= '9'; s++)
		size = size * 10 + (size_t)(*s - '0');
	uintptr_t brk0 = (uintptr_t)sbrk(0);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC, &a);
	void *volatile p = malloc(size);
	clock_gettime(CLOCK_MONOTONIC, &b);
	getrusage(RUSAGE_SELF, &ru1);
	if (p == NULL) {
		fprintf(stderr, "firstmalloc: malloc(%zu) returned NULL\n", size);
		return 1;
	}
	*(volatile char *)p = 1;
	long long rss = resident_bytes();
	free(p);
	long long start_brk = stat_field(47);
	long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	printf("{\"ops\":1,\"seconds\":%.9f,\"ns_per_op\":%lld,\"cpu_seconds\":%.6f,\"syscalls\":-1,\"minor_faults\":%ld,"
	       "\"rss\":%lld,\"max_rss\":%ld,\"rss_after\":%lld,\"traced_syscalls\":-1,\"heap_before\":%lld}\n",
	       ns / 1e9, ns, cpu, ru1.ru_minflt - ru0.ru_minflt, rss, ru1.ru_maxrss * 1024L, resident_bytes(),
	       start_brk < 0 ? -1LL : (long long)brk0 - start_brk);
	return 0;
}
