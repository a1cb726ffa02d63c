package validate

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// Linux's pressure stall information: the "some" line's total is the time, in microseconds,
// that at least one task waited for a CPU, or for I/O.
const (
	cpuPressure = "/proc/pressure/cpu"
	ioPressure  = "/proc/pressure/io"
)

func readStall(path string) (time.Duration, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "some" {
			continue
		}
		for _, kv := range fields[1:] {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err == nil
			}
		}
	}
	return 0, false
}

// stallMeter measures the share of a stretch of wall time in which tasks waited for what one
// pressure file counts.
type stallMeter struct {
	path  string
	ok    bool
	stall time.Duration
	at    time.Time
}

func startStall(path string) stallMeter {
	s, ok := readStall(path)
	return stallMeter{path: path, ok: ok, stall: s, at: time.Now()}
}

// share is the stall share since the start, from 0 to 1; 0 where it cannot be measured.
func (m stallMeter) share() float64 {
	s, ok := readStall(m.path)
	wall := time.Since(m.at)
	if !m.ok || !ok || wall <= 0 {
		return 0
	}
	return min(1, max(0, float64(s-m.stall)/float64(wall)))
}
