package mmapper

import "github.com/offheap/offheap/internal/oscall"

// Op names one kind of system call made by this package. It selects a
// counter in Counters and a target for FailAfter and FailAlways.
type Op int

// The system calls the package makes.
const (
	OpMmap     Op = iota // mmap: Map, MapAligned, Reserve, MapFile, MapFileAt, MapHugeTLB
	OpMunmap             // munmap: Unmap, and the slack of MapAligned and Reserve
	OpMremap             // mremap: Remap
	OpMadvise            // madvise: DontNeed, Free, Hugepage, Populate, Decommit
	OpMprotect           // mprotect: Commit, Decommit
	OpMincore            // mincore: Resident (one call per chunk of the range)
	OpMsync              // msync: Msync
)

// String returns the system call's name, such as "mmap".
func (o Op) String() string { return calls.Name(int(o)) }

// calls counts the package's system calls and holds their armed faults:
// the choke point shared with the other package that makes memory system
// calls (internal/oscall).
var calls = oscall.New("mmapper", "mmap", "munmap", "mremap", "madvise", "mprotect", "mincore", "msync")
