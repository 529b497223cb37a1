package brk

import "github.com/offheap/offheap/internal/oscall"

// Op names one kind of system call the Break backends make. It selects a
// counter in Counters and a target for FailAfter and FailAlways.
type Op int

// The system calls the backends make.
const (
	OpBrk      Op = iota // brk: the Real backend (every query, grow and shrink)
	OpMmap               // mmap: the reservation behind NewReserved
	OpMprotect           // mprotect: Reserved grow (read-write) and shrink (PROT_NONE)
	OpMadvise            // madvise: Reserved shrink (MADV_DONTNEED)
)

// String returns the system call's name, such as "brk".
func (o Op) String() string { return calls.Name(int(o)) }

// calls counts the package's system calls and holds their armed faults:
// the choke point shared with the other package that makes memory system
// calls (internal/oscall).
var calls = oscall.New("brk", "brk", "mmap", "mprotect", "madvise")
