package replay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offheap/offheap/alloc/tracefmt"
	"github.com/offheap/offheap/internal/replay"
)

func TestStats(t *testing.T) {
	const trace = `1 m 1 100
1 m 2 3000
2 r 1 3 200
1 r 3 4 400
1 f 2
1 c 5 10 10
1 f 4
`
	path := filepath.Join(t.TempDir(), "t.trace")
	os.WriteFile(path, []byte(trace), 0o644)
	s, err := replay.ComputeStats(path, false)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("calls", s.Calls, int64(7))
	check("threads", s.Threads, 2)
	check("mallocs", s.ByOp[tracefmt.Malloc], int64(2))
	check("reallocs", s.ByOp[tracefmt.Realloc], int64(2))
	check("frees", s.ByOp[tracefmt.Free], int64(2))
	check("peak live bytes", s.PeakLiveBytes, uint64(3400))
	check("peak at call", s.PeakAt, int64(4))
	check("total bytes", s.TotalBytes, uint64(100+3000+200+400+100))
	check("live at end", s.LiveAtEnd, replay.Bucket{Count: 1, Bytes: 100})
	check("sizes 64..<128", s.Sizes[7], replay.Bucket{Count: 2, Bytes: 200})
	check("sizes 2K..<4K", s.Sizes[12], replay.Bucket{Count: 1, Bytes: 3000})
	check("lifetime 1 call", s.Lifetimes[1], replay.Bucket{Count: 1, Bytes: 200})
	check("lifetime 2..<4 calls", s.Lifetimes[2], replay.Bucket{Count: 3, Bytes: 100 + 3000 + 400})
	check("chains of 2", s.Chains[2], replay.Bucket{Count: 1, Bytes: 400})
	check("grew", s.ReallocGrow, int64(2))
	if len(s.LongChains) != 1 || s.LongChains[0].Reallocs != 2 || s.LongChains[0].First != 100 || s.LongChains[0].Last != 400 {
		t.Errorf("chains %+v", s.LongChains)
	}
	var out bytes.Buffer
	s.Write(&out)
	for _, want := range []string{"7 calls from 2 threads", "peak live 3400 B", "realloc chains: 1 blocks reallocated", "2 reallocs 100 B -> 400 B"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, out.String())
		}
	}
}
