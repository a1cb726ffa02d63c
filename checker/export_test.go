package checker

import "time"

// PorcupineFresh is the second opinion for the differential tests of checker_test, which run
// the scenarios (a package that imports this one). Each search is bounded by bound.
func PorcupineFresh(h History, bound time.Duration) (illegal, unknown []int64) {
	return porcupineFresh(h, minWindow, bound)
}
