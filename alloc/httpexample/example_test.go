package httpexample_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"unsafe"

	"github.com/offheap/offheap/alloc"
)

// entry is one slot of a request's hash table: a word's hash and count.
type entry struct {
	hash  uint64
	count int64
}

// countWords counts the distinct words of text in an open-addressing hash
// table that lives in h: the whole table goes with h.Destroy, no Free of
// its own.
func countWords(h *alloc.Heap, text string) (distinct int, most int64) {
	words := strings.Fields(text)
	slots := alloc.MakeSliceIn[entry](h, 2*len(words)+1)
	for _, w := range words {
		x := uint64(14695981039346656037)
		for i := 0; i < len(w); i++ {
			x = (x ^ uint64(w[i])) * 1099511628211
		}
		x |= 1 // 0 marks an empty slot
		i := x % uint64(len(slots))
		for slots[i].hash != 0 && slots[i].hash != x {
			i = (i + 1) % uint64(len(slots))
		}
		if slots[i].hash == 0 {
			slots[i].hash = x
			distinct++
		}
		slots[i].count++
		most = max(most, slots[i].count)
	}
	// Scratch buffers come and go in the same heap.
	buf := h.Malloc(4096)
	copy(unsafe.Slice((*byte)(buf), 4096), text)
	return distinct, most
}

// Per-request heaps in an HTTP handler: each request builds its data in a
// private heap and drops all of it at once when the response is written,
// whatever it allocated.
func Example() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		h := alloc.NewHeap()
		defer h.Destroy() // every block of the request, at once
		body, _ := io.ReadAll(r.Body)
		distinct, most := countWords(h, string(body))
		fmt.Fprintf(w, "%d distinct words, the commonest %d times", distinct, most)
	}
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()

	for _, text := range []string{"to be or not to be", "a rose is a rose is a rose"} {
		resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(text))
		if err != nil {
			fmt.Println(err)
			return
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(out))
	}
	// Output:
	// 4 distinct words, the commonest 2 times
	// 3 distinct words, the commonest 3 times
}
