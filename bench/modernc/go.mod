module github.com/offheap/offheap/bench/modernc

go 1.26.0

require (
	github.com/offheap/offheap v0.0.0
	modernc.org/memory v1.13.0
)

require (
	github.com/google/pprof v0.0.0-20261016150608-1facf8f91b50 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/offheap/offheap => ../..
