package checker

// JudgeOptions say which properties Judge checks besides Check's, and how.
type JudgeOptions struct {
	Liveness LivenessOptions // as CheckLiveness takes them
	Progress ProgressOptions // as CheckProgress takes them; progress judges calm runs only
	NoFresh  bool            // skip fresh: its LinResult stays zero
}

// Judge is Check, CheckLiveness, CheckProgress and CheckFresh together, with the same verdicts:
// its Result holds Check's violations, then liveness's, progress's and fresh's, each in the
// order its own function returns them, and its LinResult is CheckFresh's. The error is
// Check's, and then nothing else is judged.
//
// A history of a large run does not fit in the processor's caches, so a pass over it costs
// its length in memory traffic whatever little it does per event, and the four functions make
// six. Judge makes two: the first passes of Check, liveness and fresh together, then the
// second passes of Check and liveness with progress's only one.
func Judge(h History, opt JudgeOptions) (Result, LinResult, error) {
	server := serverOf(h)
	logs := newLogBuilder(server)
	pre := newLivePrepass()
	var fresh collector
	if !opt.NoFresh {
		fresh = newCollector(server, true)
	}
	for i := range h {
		logs.step(h, i)
		pre.step(i, &h[i])
		if !opt.NoFresh {
			fresh.step(h, i)
		}
	}
	c := newChecker(h, logs.finish())
	if c.st.bad != nil {
		// The history is malformed: Check's error, or an earlier one of its second pass.
		_, err := c.result()
		return Result{}, LinResult{}, err
	}
	live := newLiveness(h, opt.Liveness, &pre)
	judgeProgress := opt.Progress.Calm
	prog := newProgress(server, opt.Progress)
	for i := range h {
		if err := c.step(i); err != nil {
			return Result{}, LinResult{}, err
		}
		live.event(i, &h[i])
		if judgeProgress {
			prog.event(h, i)
		}
	}
	res := c.done()
	if len(h) > 0 {
		res.Violations = append(res.Violations, live.verdicts(opt.Liveness)...)
	}
	res.Violations = append(res.Violations, prog.vs...)
	var lin LinResult
	if !opt.NoFresh {
		ss, posts := fresh.finish()
		lin = judgeFresh(h, ss, posts)
		res.Violations = append(res.Violations, lin.Violations(h)...)
	}
	return res, lin, nil
}
