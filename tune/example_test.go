package tune_test

import (
	"errors"
	"fmt"

	"github.com/offheap/offheap/tune"
)

// Sizes take glibc's plain byte counts and the usual suffixes.
func ExampleParseSize() {
	for _, s := range []string{"131072", "128k", "1MiB", "64m", "2g", "12 apples"} {
		n, err := tune.ParseSize(s)
		if err != nil {
			fmt.Println(s, "->", err)
			continue
		}
		fmt.Println(s, "->", n, tune.FormatSize(n))
	}
	// Output:
	// 131072 -> 131072 128KiB
	// 128k -> 131072 128KiB
	// 1MiB -> 1048576 1MiB
	// 64m -> 67108864 64MiB
	// 2g -> 2147483648 2GiB
	// 12 apples -> tune: size "12 apples": not a byte size (want e.g. 4096, 128k, 1MiB); accepted 0 to 9223372036854775807 bytes
}

// FromEnv reads the glibc names, GLIBC_TUNABLES and OFFHEAP, later ones
// winning; a bad value is reported and leaves the parameter as it was.
func ExampleFromEnv() {
	env := map[string]string{
		"MALLOC_ARENA_MAX": "2",
		"GLIBC_TUNABLES":   "glibc.malloc.mmap_threshold=262144",
		"OFFHEAP":          "mmap_threshold=1m,trim_threshold=lots",
	}
	s, problems := tune.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println("arena_max", s.Get(tune.ArenaMax))
	fmt.Println("mmap_threshold", s.Get(tune.MmapThreshold))
	fmt.Println("trim_threshold set:", s.IsSet(tune.TrimThreshold))
	fmt.Println(len(problems), "problem(s)")
	// Output:
	// arena_max 2
	// mmap_threshold 1048576
	// trim_threshold set: false
	// 1 problem(s)
}

// Set validates against the parameter's range and leaves the value
// unchanged on error.
func ExampleSettings_Set() {
	s := tune.Defaults()
	err := s.Set(tune.Perturb, 256)
	fmt.Println(errors.Is(err, tune.ErrRange), s.Get(tune.Perturb), s.IsSet(tune.Perturb))
	fmt.Println(s.Set(tune.Perturb, 0xa5), s.Get(tune.Perturb), s.IsSet(tune.Perturb))
	// Output:
	// true 0 false
	// <nil> 165 true
}
