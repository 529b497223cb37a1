package brk

import "strconv"

// Op names one kind of system call the Break backends make. It selects a
// counter in Counters and a target for FailAfter and FailAlways.
type Op int

// The system calls the backends make.
const (
	OpBrk      Op = iota // brk: the Real backend (every query, grow and shrink)
	OpMmap               // mmap: the reservation behind NewReserved
	OpMprotect           // mprotect: Reserved grow (read-write) and shrink (PROT_NONE)
	OpMadvise            // madvise: Reserved shrink (MADV_DONTNEED)

	numOps = iota
)

var opNames = [numOps]string{"brk", "mmap", "mprotect", "madvise"}

// String returns the system call's name, such as "brk".
func (o Op) String() string {
	if o.valid() {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

func (o Op) valid() bool { return o >= 0 && o < numOps }
