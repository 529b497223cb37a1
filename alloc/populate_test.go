package alloc

import (
	"testing"

	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// TestPopulateGrowth grows the process heap by 4 MiB of small blocks in a
// fresh process, with populate on (the default) and off, and checks what
// the kernel was asked and what is resident: on, the growths past the
// first MiB were populated with madvise calls and the top beyond the last
// block is resident before anything touched it; off, no madvise call and
// the top's pages are not resident.
func TestPopulateGrowth(t *testing.T) {
	for _, c := range []struct {
		name string
		on   bool
	}{{"on", true}, {"off", false}} {
		t.Run(c.name, func(t *testing.T) {
			if runInChild(t, "OFFHEAP=populate="+c.name+",profile_rate=0,tcache_count=0") {
				return
			}
			if mmapper.PopulateRefused() {
				t.Skip("the kernel refuses MADV_POPULATE_WRITE")
			}
			var before Stats
			ReadStats(&before)
			var last uintptr
			for range 4096 {
				last = uintptr(Malloc(1000))
			}
			var st Stats
			ReadStats(&st)
			calls := st.Syscalls.Madvise.Calls - before.Syscalls.Madvise.Calls
			bytes := st.Syscalls.Madvise.Bytes - before.Syscalls.Madvise.Bytes
			if st.Break != "brk" && st.Break != "reserved" || st.Arenas[0].Regions == 0 {
				t.Fatalf("break %q: the blocks are not on the break", st.Break)
			}
			// The top: from the page after the last block to the break.
			from := (last + 1008 + 4095) &^ 4095
			end := brk.Default().Current()
			if end <= from {
				t.Skipf("no whole page of top after the last block (%#x, break %#x)", from, end)
			}
			res, err := mmapper.Resident(from, end-from)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("madvise %d calls, %d bytes; top after the last block %d bytes, %d resident", calls, bytes, end-from, res)
			if c.on {
				if calls == 0 || bytes < 1<<20 {
					t.Errorf("4 MiB of growth: %d madvise calls for %d bytes, want some for at least 1 MiB", calls, bytes)
				}
				if res < (end-from)/2 {
					t.Errorf("%d of the top's %d bytes resident, want most", res, end-from)
				}
			} else {
				if calls != 0 {
					t.Errorf("populate off: %d madvise calls", calls)
				}
				if res > 4096 {
					t.Errorf("populate off: %d of the top's %d untouched bytes resident", res, end-from)
				}
			}
		})
	}
}

// TestPopulateMallopt: Mallopt turns populate off and on again, the
// process heap's parameters and Stats follow, and a value out of range is
// refused with the setting kept.
func TestPopulateMallopt(t *testing.T) {
	d := tune.Defaults()
	defer Mallopt(tune.Populate, int(d.Get(tune.Populate)))
	for _, v := range []int{0, 1, 0} {
		if err := Mallopt(tune.Populate, v); err != nil {
			t.Fatalf("Mallopt(Populate, %d): %v", v, err)
		}
		if got := theHeap().Params().Populate; got != (v == 1) {
			t.Errorf("after Mallopt(Populate, %d) the heap's Populate is %v", v, got)
		}
		var st Stats
		ReadStats(&st)
		if want := v == 1 && !mmapper.PopulateRefused(); st.Params.Populate != want {
			t.Errorf("after Mallopt(Populate, %d) Stats.Params.Populate = %v, want %v", v, st.Params.Populate, want)
		}
	}
	if err := Mallopt(tune.Populate, 2); err == nil {
		t.Error("Mallopt(Populate, 2): no error")
	}
	if theHeap().Params().Populate {
		t.Error("a refused Mallopt changed the setting")
	}
}
