package mmapper

// SetFreeUsesDontNeed sets the sticky MADV_FREE fallback, so a test that
// trips it can put it back.
func SetFreeUsesDontNeed(v bool) { freeUsesDontNeed.Store(v) }

// FaultsArmed reports the flag the fast path of the fault check loads.
func FaultsArmed() bool { return calls.Armed() }

// Injected is the fault check every system call makes first.
var Injected = injected

var CountResident = countResident

const ResidentChunkPages = residentChunkPages

// SetPopulateRefused sets the sticky MADV_POPULATE_WRITE refusal, so a test
// that forces it can undo it.
func SetPopulateRefused(v bool) { populateRefused.Store(v) }
