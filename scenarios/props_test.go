package scenarios

import (
	"fmt"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/prop"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

// holds returns a gopter condition: every generated plan, run with impl, is free of violations
// of property. A failing plan is shrunk by PlanShrinker before gopter reports it. Porcupine
// runs only where fresh is the property: on the illegal histories of a planted bug it can take
// its whole timeout, for every one of the shrinker's runs.
func holds(property string, bugs reference.Bugs) func(Plan) (bool, error) {
	return func(p Plan) (bool, error) {
		out, err := Run(p, 1, Options{Bugs: bugs, NoFresh: property != checker.PropFresh})
		if err != nil {
			return false, err
		}
		for _, v := range out.Result.Violations {
			if v.Property == property {
				return false, fmt.Errorf("%s on %s: %s", v.Property, v.Node, v.Message)
			}
		}
		return true, nil
	}
}

// Every property the checker knows holds for the reference on generated plans. The seed is
// fixed: go test must be deterministic; campaigns explore further seeds.
func TestPropertiesHoldForTheReference(t *testing.T) {
	params := gopter.DefaultTestParametersWithSeed(1)
	params.MinSuccessfulTests = 60
	props := gopter.NewProperties(params)
	for _, p := range checker.Properties() {
		props.Property(p.Name+" holds", prop.ForAll(holds(p.Name, 0), PlanGen()))
	}
	props.TestingRun(t)
}

// The same properties are able to fail: against a planted bug, the property it breaks is
// falsified on generated plans (gopter reports and shrinks the counterexample).
func TestPropertiesCatchPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		bug      reference.Bugs
		property string
	}{
		{reference.BugNoDrain, "no-dup"},
		{reference.BugSeqDataOffByOne, "start"},
	} {
		params := gopter.DefaultTestParametersWithSeed(1)
		params.MinSuccessfulTests = 300
		res := prop.ForAll(holds(tc.property, tc.bug), PlanGen()).Check(params)
		if res.Passed() {
			t.Errorf("%s held for 300 plans against a client with the bug that breaks it", tc.property)
		}
	}
}

// The part generators vary one part of a fixed plan; links and server settings never change
// what the reference delivers.
func TestPartGeneratorsKeepTheReferenceCorrect(t *testing.T) {
	base := Random(11)
	params := gopter.DefaultTestParametersWithSeed(2)
	params.MinSuccessfulTests = 40
	props := gopter.NewProperties(params)
	clean := func(p Plan) bool {
		out, err := Run(p, 1, Options{})
		return err == nil && len(out.Result.Violations) == 0
	}
	props.Property("any links", prop.ForAll(func(on, req Link) bool {
		p := base.clone()
		p.Net = NetPlan{Online: on, Request: req}
		return clean(p)
	}, LinkGen(), LinkGen()))
	props.Property("any server pacing", prop.ForAll(func(s ServerPlan) bool {
		p := base.clone()
		p.Server = s
		return clean(p)
	}, ServerGen()))
	props.Property("any posts", prop.ForAll(func(posts []Post) bool {
		p := base.clone()
		p.Posts = posts
		return clean(p)
	}, PostsGen()))
	props.Property("any clients", prop.ForAll(func(cs []ClientPlan) bool {
		p := base.clone()
		p.Clients, p.Faults = cs, nil
		return clean(p)
	}, ClientsGen(base.Posts)))
	props.Property("any fault schedule", prop.ForAll(func(fs []Fault) bool {
		p := base.clone()
		p.Faults = fs
		return clean(p)
	}, FaultsGen(base.Clients)))
	props.TestingRun(t)
}
