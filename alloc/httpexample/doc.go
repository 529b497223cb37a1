// Package httpexample holds a runnable example of private heaps
// (alloc.NewHeap) in an HTTP handler: each request builds its data in a
// heap of its own and drops all of it at once. It lives apart from package
// alloc because net/http links cgo's resolver into a test binary, and
// alloc's own tests need a binary without cgo (the program break is real
// only there).
package httpexample
