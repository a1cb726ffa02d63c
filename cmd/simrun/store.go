package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/streamsim/streamsim/reference/storage"
)

// cmdStore is `simrun store verify|repair DIR`: the operator's view of a file store.
func cmdStore(args []string, stdout io.Writer) (int, error) {
	pos, rest := leading(args)
	if err := parse(flags("store"), rest); err != nil {
		return 2, err
	}
	args = pos
	if len(args) != 2 || (args[0] != "verify" && args[0] != "repair") {
		return 2, usagef("store takes verify or repair and one directory: simrun store verify|repair DIR")
	}
	dir := args[1]
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a directory")
		}
		return 2, usagef("store %s: %s: %v", args[0], dir, unwrapPath(err))
	}
	if args[0] == "repair" {
		return storeRepair(dir, stdout)
	}
	return storeVerify(dir, stdout)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// storeVerify exits 0 when the store opens as it is or after cutting what a crash left, 1
// when it is damaged.
func storeVerify(dir string, stdout io.Writer) (int, error) {
	r, err := storage.Verify(storage.OS{}, dir)
	if err != nil {
		return 1, err
	}
	span := "no records"
	if r.Records > 0 {
		span = fmt.Sprintf("%d records, seqs %d..%d", r.Records, r.First, r.Last)
	}
	fmt.Fprintf(stdout, "store %s: %d intact segments, %s\n", dir, len(r.Segments), span)
	for _, s := range r.Segments {
		state := "open for appends"
		if s.Sealed {
			state = "sealed"
		}
		seqs := "no records"
		if s.Records > 0 {
			seqs = fmt.Sprintf("seqs %d..%d, %d records", s.First, s.Last, s.Records)
		}
		fmt.Fprintf(stdout, "  %s  %s, %d bytes, %s\n", filepath.Base(s.Path), seqs, s.Bytes, state)
	}
	if r.Problem != nil {
		fmt.Fprintf(stdout, "DAMAGED: %v\n", r.Problem)
		for _, name := range r.Unchecked {
			fmt.Fprintf(stdout, "  not checked: %s\n", name)
		}
		fmt.Fprintf(stdout, "The server refuses this store. 'simrun store repair %s' cuts it back to its last intact record.\n", dir)
		return 1, nil
	}
	if len(r.Cuts) == 0 {
		fmt.Fprintln(stdout, "intact")
		return 0, nil
	}
	fmt.Fprintln(stdout, "intact up to what a crash left; opening it will:")
	for _, c := range r.Cuts {
		fmt.Fprintf(stdout, "  %v\n", c)
	}
	return 0, nil
}

func storeRepair(dir string, stdout io.Writer) (int, error) {
	cuts, err := storage.Repair(storage.OS{}, dir)
	for _, c := range cuts {
		fmt.Fprintf(stdout, "%v\n", c)
	}
	if err != nil {
		return 1, err
	}
	if len(cuts) == 0 {
		fmt.Fprintf(stdout, "store %s: nothing to repair\n", dir)
	}
	return storeVerify(dir, stdout)
}
