package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/offheap/offheap/fileheap"
)

func init() {
	register("fileheap", "inspect a heap file of package fileheap: stat FILE, check FILE", runFileHeap)
}

func runFileHeap(args []string) error {
	fs := flag.NewFlagSet("fileheap", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap fileheap stat [-json] FILE\n       offheap fileheap check FILE\n\n"+
			"stat prints the figures of the heap in FILE (its length, the blocks in use, mallinfo2's\n"+
			"figures for its chunks, the processes that have it open) and checks it; check checks\n"+
			"every chunk and list (fileheap's Check) and prints what is in use. Both exit with status 1\n"+
			"if the heap is damaged. Both open the heap as any process would: an operation that a\n"+
			"killed process left in flight is undone, and the heap is locked while it is walked.\n\n")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "stat: print the figures as JSON")
	if len(args) == 0 || args[0] != "stat" && args[0] != "check" {
		fs.Usage()
		return errors.New("want stat or check, and a heap file")
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one heap file")
	}
	path := fs.Arg(0)
	// Open would make a missing or empty file a heap: refuse those here.
	if fi, err := os.Stat(path); err != nil {
		return err
	} else if fi.Size() == 0 {
		return fmt.Errorf("%s: empty file, not a heap", path)
	}
	h, err := fileheap.Open(path, fileheap.Options{})
	if err != nil {
		return err
	}
	defer h.Close()
	if sub == "check" {
		if err := h.Check(); err != nil {
			return err
		}
		st, err := h.Stats()
		if err != nil {
			return err
		}
		fmt.Printf("%s: ok: %d blocks in use (%d bytes), %d free chunks, file %d bytes\n",
			path, st.Blocks, st.BlockBytes, st.Ordblks+st.Smblks, st.FileSize)
		return nil
	}
	st, err := h.Stats()
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		if jerr := e.Encode(struct {
			fileheap.Stats
			Check string `json:"check"`
		}{st, checkText(err)}); jerr != nil {
			return jerr
		}
	} else {
		writeFileHeapStats(os.Stdout, path, st, err)
	}
	return err
}

func checkText(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// writeFileHeapStats prints the figures of a heap as a table.
func writeFileHeapStats(out io.Writer, path string, st fileheap.Stats, checkErr error) {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(w, "heap\t%s\n", path)
	fmt.Fprintf(w, "file\t%d bytes (the most it may grow to: %d), %d on the device\n", st.FileSize, st.MaxSize, st.DiskBytes)
	fmt.Fprintf(w, "in use\t%d blocks, %d usable bytes\n", st.Blocks, st.BlockBytes)
	fmt.Fprintf(w, "mallinfo2\tarena %d  ordblks %d  smblks %d  fsmblks %d  uordblks %d  fordblks %d  keepcost %d\n",
		st.Arena, st.Ordblks, st.Smblks, st.Fsmblks, st.Uordblks, st.Fordblks, st.Keepcost)
	fmt.Fprintf(w, "recoveries\t%d (operations of killed processes undone)\n", st.Recoveries)
	fmt.Fprintf(w, "open by\t%d Heaps\n", len(st.Clients))
	for _, c := range st.Clients {
		who := ""
		if c.Pid == os.Getpid() {
			who = " (this command)"
		}
		fmt.Fprintf(w, "\tpid %d, slot %d, since %s%s\n", c.Pid, c.Slot, time.Unix(0, c.Opened).Format(time.RFC3339), who)
	}
	fmt.Fprintf(w, "check\t%s\n", checkText(checkErr))
	w.Flush()
}
