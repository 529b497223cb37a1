package brk

import "fmt"

// The Real backend: the process's own program break. The kernel keeps the
// pages: raising the break maps fresh zero pages, lowering it unmaps them.
// It assumes nothing else in the process moves the break, which holds in a
// pure Go binary (the runtime never calls brk) and is why Default uses it only
// when runtime.iscgo is false.

// newReal makes the Real Break: query the break, and raise it to a page
// boundary if it is not on one, so that Base is page aligned.
func newReal() (*Break, error) {
	cur, err := brkQuery()
	if err != nil {
		return nil, fmt.Errorf("brk: brk query: %w", err)
	}
	base := (cur + pageSize - 1) &^ (pageSize - 1)
	if base != cur {
		if err := brkSet(base, base-cur); err != nil {
			return nil, fmt.Errorf("brk: brk %#x to round %#x up to a page: %w", base, cur, err)
		}
	}
	return &Break{kind: Real, base: base, cur: base, limit: ^uintptr(0)}, nil
}

// growReal raises the break from cur by n bytes.
func growReal(cur, n uintptr) error {
	if err := brkSet(cur+n, n); err != nil {
		return fmt.Errorf("brk: brk grow %d bytes from %#x: %w", n, cur, err)
	}
	return nil
}

// shrinkReal lowers the break from cur by n bytes.
func shrinkReal(cur, n uintptr) error {
	if err := brkSet(cur-n, n); err != nil {
		return fmt.Errorf("brk: brk shrink %d bytes from %#x: %w", n, cur, err)
	}
	return nil
}
