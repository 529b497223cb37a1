package alloc

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// Bytes returns a byte slice of length and capacity n in offheap memory,
// or nil when n is negative or memory runs out. The bytes are not zeroed.
// Free it with FreeBytes.
func Bytes(n int) []byte {
	p := Malloc(n)
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// FreeBytes frees a slice from Bytes (or any slice whose first element is
// the start of an offheap block). FreeBytes(nil) does nothing.
func FreeBytes(b []byte) {
	if cap(b) == 0 {
		return
	}
	Free(unsafe.Pointer(unsafe.SliceData(b)))
}

// New returns a pointer to a zeroed T in offheap memory, or nil when memory
// runs out. It panics if T contains Go pointers (pointers, slices, strings,
// maps, channels, functions or interfaces), which must never live in memory
// the garbage collector cannot see. Free it with Delete.
func New[T any]() *T {
	t := reflect.TypeFor[T]()
	mustBePointerFree(t)
	return (*T)(Calloc(1, int(t.Size())))
}

// Delete frees a value from New. Delete(nil) does nothing.
func Delete[T any](p *T) {
	Free(unsafe.Pointer(p))
}

// MakeSlice returns a slice of n zeroed T (capacity n) in offheap memory, or
// nil when n is negative, n*size overflows or memory runs out. It panics if
// T contains Go pointers, like New. Free it with FreeSlice.
func MakeSlice[T any](n int) []T {
	t := reflect.TypeFor[T]()
	mustBePointerFree(t)
	if n < 0 {
		return nil
	}
	p := Calloc(n, int(t.Size()))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

// FreeSlice frees a slice from MakeSlice. FreeSlice(nil) does nothing.
func FreeSlice[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	Free(unsafe.Pointer(unsafe.SliceData(s)))
}

var pointerFree sync.Map // reflect.Type -> bool

func mustBePointerFree(t reflect.Type) {
	ok, seen := pointerFree.Load(t)
	if !seen {
		ok = !hasPointers(t)
		pointerFree.Store(t, ok)
	}
	if !ok.(bool) {
		panic(fmt.Sprintf("offheap: type %v contains Go pointers and cannot live in offheap memory", t))
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func,
		reflect.Interface, reflect.Slice, reflect.String:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// NewIn is New in private heap h: a zeroed T in h's memory, or nil. T must
// hold no Go pointers (it panics otherwise, as New does).
func NewIn[T any](h *Heap) *T {
	t := reflect.TypeFor[T]()
	mustBePointerFree(t)
	return (*T)(h.Calloc(1, int(t.Size())))
}

// MakeSliceIn is MakeSlice in private heap h: n zeroed Ts in h's memory,
// or nil. T must hold no Go pointers (it panics otherwise). Free it with
// h.Free(unsafe.Pointer(unsafe.SliceData(s))), FreeSlice, or not at all:
// Destroy takes it with the heap.
func MakeSliceIn[T any](h *Heap, n int) []T {
	t := reflect.TypeFor[T]()
	mustBePointerFree(t)
	if n < 0 {
		return nil
	}
	p := h.Calloc(n, int(t.Size()))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}
