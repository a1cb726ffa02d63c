package reference

import "testing"

// A node's failpoint context asks decide once each time an armed marker is passed, with the
// failpoint's path, and fires as it says; in a build without failpoints it is never asked.
func TestFailpointContextAsksDecideOnce(t *testing.T) {
	if err := EnableFailpoints(); err != nil {
		t.Fatal(err)
	}
	compiled := FailpointsCompiled()
	var asked []string
	answer := false
	ctx := FailpointContext(func(path string) bool {
		asked = append(asked, path)
		return answer
	})
	for _, name := range FailpointNames() {
		for _, answer = range []bool{false, true} {
			asked = asked[:0]
			fired := hit(ctx, name)
			if !compiled {
				if fired || len(asked) > 0 {
					t.Fatalf("%s without failpoints compiled in: fired %v, decide asked %q", name, fired, asked)
				}
				continue
			}
			if fired != answer || len(asked) != 1 || asked[0] != FailpointPath(name) {
				t.Fatalf("%s: decide said %v, the marker fired %v; decide asked %q", name, answer, fired, asked)
			}
		}
	}
	t.Logf("failpoints compiled in: %v", compiled)
}
