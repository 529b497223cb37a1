package alloc

// FreedSamplesWaiting returns how many freed samples wait to be folded.
func FreedSamplesWaiting() int {
	samples.mu.Lock()
	defer samples.mu.Unlock()
	return len(samples.freed)
}

const FoldAt = foldAt

// FreedFolded returns how many freed samples were folded into buckets.
func FreedFolded() int64 {
	samples.mu.Lock()
	defer samples.mu.Unlock()
	var n int64
	for _, b := range freedBuckets {
		n += b.frees
	}
	return n
}
