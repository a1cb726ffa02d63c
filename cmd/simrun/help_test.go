package main

import (
	"runtime"
	"strings"
	"testing"
)

// Every command answers -h, -help and --help with its own text and flags on stdout, exit 0,
// and help COMMAND prints exactly the same.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		var first string
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {c.name, "-help"}, {"help", c.name}} {
			code, out, errOut := simrun(args...)
			if code != 0 || errOut != "" {
				t.Errorf("simrun %v: exit %d, stderr %q", args, code, errOut)
			}
			if !strings.HasPrefix(out, "Usage:\n  simrun "+c.name) {
				t.Errorf("simrun %v does not start with the command's usage:\n%s", args, out)
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("simrun %v differs from simrun %s -h", args, c.name)
			}
		}
		for _, other := range commands {
			if other.name != c.name && strings.Contains(first, other.help) {
				t.Errorf("help of %s contains the help of %s", c.name, other.name)
			}
		}
	}
}

func TestHelpListsFlagsAsTyped(t *testing.T) {
	_, out, _ := simrun("run", "-h")
	for _, want := range []string{"Flags of run:", "--seeds int", "(default 100)", "--no-shrink"} {
		if !strings.Contains(out, want) {
			t.Errorf("run -h lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = simrun("shrink", "--help")
	if !strings.Contains(out, "--max-runs") {
		t.Errorf("shrink --help lacks its flags:\n%s", out)
	}
}

func TestHelpWithoutCommandListsCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := simrun(args...)
		if code != 0 {
			t.Errorf("simrun %v: exit %d", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out, "  "+c.name+" ") || strings.Contains(out, c.help) {
				t.Errorf("simrun %v: want %s listed by summary only:\n%s", args, c.name, out)
			}
		}
	}
	if code, _, errOut := simrun(); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Errorf("simrun alone: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := simrun("help", "nope"); code != 2 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("help nope: exit %d, stderr %q", code, errOut)
	}
}

func TestUnknownFlagNamedAsTyped(t *testing.T) {
	for typed, args := range map[string][]string{
		"--bogus":   {"run", "--all", "--bogus"},
		"-bogus":    {"run", "-all", "-bogus=3"},
		"--frob":    {"replay", "--seed", "3", "--frob"},
		"--nothere": {"shrink", "plan.json", "--nothere"},
	} {
		code, _, errOut := simrun(args...)
		if code != 2 || !strings.Contains(errOut, "unknown flag "+typed+" ") {
			t.Errorf("simrun %v: exit %d, want the flag named %s: %q", args, code, typed, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, _ := simrun(args...)
		if code != 0 || !strings.HasPrefix(out, "simrun ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "failpoints: ") {
			t.Errorf("simrun %v: exit %d:\n%s", args, code, out)
		}
	}
	if code, _, _ := simrun("version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}
