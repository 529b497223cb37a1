package fileheap_test

import (
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/offheap/offheap/fileheap"
)

// Blocks found again after Close and Open, through the root.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "fileheap")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "heap")

	h, err := fileheap.Open(path, fileheap.Options{Size: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	off, err := h.Alloc(len("kept in a file"))
	if err != nil {
		log.Fatal(err)
	}
	copy(h.Bytes(off), "kept in a file")
	h.SetRoot(off)
	h.Close()

	h, err = fileheap.Open(path, fileheap.Options{}) // Size 0: as recorded in the file
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	fmt.Println(string(h.Bytes(h.Root())[:len("kept in a file")]))
	blocks, _ := h.InUse()
	fmt.Println(blocks, "block in use")
	// Output:
	// kept in a file
	// 1 block in use
}

// cache is a string cache kept in a file heap: a table of 1,024 buckets in
// the root block, each the offset of a chain of entries. An entry is one
// block: {next Offset, key length, value length, key, value}. Offsets, not
// pointers, link everything, so the cache is whole again after a restart,
// in any process. (fileheap makes allocation safe for several processes;
// a cache written by several at once would need its own lock, flock say.)
type cache struct {
	h     *fileheap.Heap
	table []byte // the root block: 1,024 offsets
}

const buckets = 1024

// bucket hashes a key to its bucket with FNV-1a: the hash must be the same
// in every run, since the table is laid out by it (hash/maphash is seeded
// per process).
func bucket(key string) int {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % buckets)
}

func openCache(path string) (*cache, error) {
	h, err := fileheap.Open(path, fileheap.Options{Size: 1 << 30})
	if err != nil {
		return nil, err
	}
	if h.Root() == 0 { // a new file: make the table
		off, err := h.Alloc(8 * buckets)
		if err != nil {
			h.Close()
			return nil, err
		}
		clear(h.Bytes(off))
		h.SetRoot(off)
	}
	return &cache{h: h, table: h.Bytes(h.Root())}, nil
}

func (c *cache) slot(key string) []byte { b := bucket(key); return c.table[8*b : 8*b+8] }

// Get returns the value stored under key.
func (c *cache) Get(key string) (string, bool) {
	for off := fileheap.Offset(binary.LittleEndian.Uint64(c.slot(key))); off != 0; {
		e := c.h.Bytes(off)
		kn, vn := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if string(e[16:16+kn]) == key {
			return string(e[16+kn : 16+kn+vn]), true
		}
		off = fileheap.Offset(binary.LittleEndian.Uint64(e))
	}
	return "", false
}

// Put stores value under key, replacing what was there.
func (c *cache) Put(key, value string) error {
	c.Delete(key)
	off, err := c.h.Alloc(16 + len(key) + len(value))
	if err != nil {
		return err
	}
	e, slot := c.h.Bytes(off), c.slot(key)
	binary.LittleEndian.PutUint32(e[8:], uint32(len(key)))
	binary.LittleEndian.PutUint32(e[12:], uint32(len(value)))
	copy(e[16:], key)
	copy(e[16+len(key):], value)
	copy(e[:8], slot)                                // next: the chain so far
	binary.LittleEndian.PutUint64(slot, uint64(off)) // then publish it (one 8-byte store)
	return nil
}

// Delete removes key.
func (c *cache) Delete(key string) {
	link := c.slot(key)
	for off := fileheap.Offset(binary.LittleEndian.Uint64(link)); off != 0; {
		e := c.h.Bytes(off)
		kn := binary.LittleEndian.Uint32(e[8:])
		if string(e[16:16+kn]) == key {
			copy(link, e[:8]) // unlink, then free
			c.h.Free(off)
			return
		}
		link, off = e[:8], fileheap.Offset(binary.LittleEndian.Uint64(e))
	}
}

func (c *cache) Close() error { return c.h.Close() }

// A cache that survives a restart: the second openCache finds every value
// the first run stored, without warming anything.
func Example_cache() {
	dir, _ := os.MkdirTemp("", "fileheap")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cache")

	// The first run fills the cache.
	c, err := openCache(path)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		c.Put(fmt.Sprintf("user:%d", i), fmt.Sprintf("profile of user %d", i))
	}
	c.Put("user:42", "updated profile")
	c.Delete("user:7")
	c.Close()

	// The service restarts: the cache is warm.
	c, err = openCache(path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, k := range []string{"user:1", "user:42", "user:7", "user:9999"} {
		v, ok := c.Get(k)
		fmt.Printf("%s: %q %v\n", k, v, ok)
	}
	blocks, _ := c.h.InUse()
	fmt.Println(blocks, "blocks in use: the table and 9,999 entries")
	// Output:
	// user:1: "profile of user 1" true
	// user:42: "updated profile" true
	// user:7: "" false
	// user:9999: "profile of user 9999" true
	// 10000 blocks in use: the table and 9,999 entries
}
