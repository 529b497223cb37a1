package mmapper

import "strconv"

// Op names one kind of system call made by this package. It selects a
// counter in Counters and a target for FailAfter and FailAlways.
type Op int

// The system calls the package makes.
const (
	OpMmap     Op = iota // mmap: Map, MapAligned, Reserve, MapFile, MapFileAt
	OpMunmap             // munmap: Unmap, and the slack of MapAligned and Reserve
	OpMremap             // mremap: Remap
	OpMadvise            // madvise: DontNeed, Free, Hugepage, Decommit
	OpMprotect           // mprotect: Commit, Decommit
	OpMincore            // mincore: Resident (one call per chunk of the range)
	OpMsync              // msync: Msync

	numOps = iota
)

var opNames = [numOps]string{"mmap", "munmap", "mremap", "madvise", "mprotect", "mincore", "msync"}

// String returns the system call's name, such as "mmap".
func (o Op) String() string {
	if o.valid() {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

func (o Op) valid() bool { return o >= 0 && o < numOps }
