package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// cmdReport writes the report a campaign writes for a failing seed, for a plan file (a shrunk
// failure, a fuzz finding) or for any history file (another implementation's recording).
func cmdReport(args []string, stdout io.Writer) (int, error) {
	pos, args := leading(args)
	fs := flags("report")
	seed := fs.Int64("seed", -1, "seed for a plan (default: the plan's own)")
	impl := fs.String("impl", "reference", "implementation to run a plan against, or the name a history's report gives it")
	outDir := fs.String("out", ".", "the report goes to DIR/failures/<name>-<seed>-<impl>/")
	rules := historyFlags(fs)
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if err := rules.check("report"); err != nil {
		return 2, err
	}
	if len(pos) != 1 {
		return 2, usagef("report takes one plan or history file: simrun report PLAN.json|HISTORY.jsonl [flags]")
	}
	path := pos[0]
	var dir string
	var failed bool
	if strings.HasSuffix(path, ".jsonl") {
		name := "unknown" // a recorded history says nothing of what produced it
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "impl" {
				name = *impl
			}
		})
		f, lin, err := historyFailure(path, name, rules)
		if err != nil {
			return 2, err
		}
		failed = len(f.Result.Violations) > 0
		if dir, err = writeFailure(*outDir, f, lin); err != nil {
			return 1, err
		}
	} else {
		bugs, err := parseImpl(*impl)
		if err != nil {
			return 2, err
		}
		plan, err := loadPlan(path, seed)
		if err != nil {
			return 2, usagef("%v (a history file must end in .jsonl)", err)
		}
		plan.Seed = uint64(*seed)
		f := reports.Failure{Scenario: plan.Name, Seed: plan.Seed, Impl: *impl, Plan: plan,
			Replay: fmt.Sprintf("simrun replay --plan %s --seed %d --impl %s", path, plan.Seed, *impl)}
		out, err := scenarios.Run(plan, plan.Seed, scenarios.Options{Bugs: bugs})
		if err != nil {
			f.Err = err.Error()
		}
		f.Hash, f.History, f.Result = out.Hash, out.History, out.Result
		failed = err != nil || len(out.Result.Violations) > 0
		if dir, err = writeFailure(*outDir, f, out.Fresh); err != nil {
			return 1, err
		}
	}
	verdict := "no violation"
	if failed {
		verdict = "violations found"
	}
	fmt.Fprintf(stdout, "%s: %s; wrote %s\n", path, verdict, filepath.Join(dir, "report.html"))
	if failed {
		return 1, nil
	}
	return 0, nil
}

// historyFailure reads and judges a history file as simrun check does.
func historyFailure(path, impl string, rules historyRules) (reports.Failure, checker.LinResult, error) {
	h, res, lin, err := judgeFile(path, rules)
	if err != nil {
		return reports.Failure{}, checker.LinResult{}, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	return reports.Failure{Scenario: name, Impl: impl, History: h, Result: res, Plan: map[string]string{"history": path},
		Replay: "simrun check " + path}, lin, nil
}
