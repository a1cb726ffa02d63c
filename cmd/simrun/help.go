package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/streamsim/streamsim/reference"
)

// command is one simrun verb.
type command struct {
	name    string
	summary string // one line in the command list
	help    string // synopsis and description, printed with the flags
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// helpRequest is what parse returns for -h, -help or --help: the dispatcher prints the
// command's help with fs's flags and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

func printCommands(w io.Writer) {
	fmt.Fprint(w, "simrun: find delivery bugs in stream+ implementations by deterministic simulation.\n\n")
	fmt.Fprint(w, "Usage: simrun COMMAND [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
'simrun help COMMAND' or 'simrun COMMAND -h' describes a command and its flags.
IMPL is "reference" (default) or "mutant:NAME", the reference with one planted bug.
Exit status: 0 no violation, 1 violations found, 2 bad usage, 130 stopped by Ctrl-C.
`)
}

// printHelp prints the command's text and fs's flags, spelled with two dashes as the help
// texts and README spell them (one dash works too).
func (c command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, c.help)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags of %s:\n", fs.Name())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		def := ""
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  --%s %s\t%s%s\n", f.Name, kind, usage, def)
	})
	tw.Flush()
}

// flags returns a flag set whose errors come back from parse instead of being printed.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args into fs, refusing positional arguments. A help flag comes back as a
// helpRequest; an unknown flag is named as the user typed it (the flag package would drop a
// dash of --name).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs}
		}
		if typed := unknownFlag(fs, args); typed != "" {
			return usagef("%s: unknown flag %s (see 'simrun %s -h')", fs.Name(), typed, fs.Name())
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// unknownFlag walks args as the flag package does and returns the first flag, as typed, that
// fs does not define.
func unknownFlag(fs *flag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return ""
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			typed, _, _ := strings.Cut(a, "=")
			return typed
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
			i++
		}
	}
	return ""
}

// leading splits off the positional arguments some commands take before their flags.
func leading(args []string) (positional, rest []string) {
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		i++
	}
	return args[:i], args[i:]
}

func cmdVersion(args []string, stdout io.Writer) (int, error) {
	if err := parse(flags("version"), args); err != nil {
		return 2, err
	}
	fmt.Fprintln(stdout, versionLine())
	fmt.Fprintf(stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if reference.FailpointsCompiled() {
		fmt.Fprintln(stdout, "failpoints: compiled in")
	} else {
		fmt.Fprintln(stdout, "failpoints: not compiled in (armed failpoints never fire; make build compiles them in)")
	}
	return 0, nil
}

// versionLine names the build: the module version `go install pkg@version` records, else the
// VCS revision a build inside a checkout records.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "simrun (no build information)"
	}
	v := bi.Main.Version
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	line := "simrun " + v
	if rev != "" {
		line += " revision " + rev[:min(len(rev), 12)]
		if modified {
			line += " (with uncommitted changes)"
		}
		if when != "" {
			line += " of " + when
		}
	}
	return line
}
