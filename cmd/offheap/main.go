// Command offheap shows what the offheap allocator does: a step-by-step
// demo, and (as they land) benchmarks against other allocators, trace
// replay and tuning. Run "offheap -h" for the list of subcommands.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: offheap <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun \"offheap <command> -h\" for a command's flags.\n")
}

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() == 0 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[flag.Arg(0)]
	if !ok {
		fmt.Fprintf(os.Stderr, "offheap: unknown command %q\n\n", flag.Arg(0))
		usage()
		os.Exit(2)
	}
	if err := c.run(flag.Args()[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "offheap %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}
