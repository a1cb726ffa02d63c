package validate

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// pressureFile is Linux's CPU pressure stall information: the "some" line's total is the time,
// in microseconds, that at least one runnable task waited for a CPU.
const pressureFile = "/proc/pressure/cpu"

// cpuStall reads the machine's total CPU stall time; false where the kernel does not tell.
func cpuStall() (time.Duration, bool) { return readStall(pressureFile) }

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

// stallMeter measures the share of a stretch of wall time in which tasks waited for a CPU.
type stallMeter struct {
	ok    bool
	stall time.Duration
	at    time.Time
}

func startStall() stallMeter {
	s, ok := cpuStall()
	return stallMeter{ok: ok, stall: s, at: time.Now()}
}

// share is the stall share since the start, from 0 to 1; 0 where it cannot be measured.
func (m stallMeter) share() float64 {
	s, ok := cpuStall()
	wall := time.Since(m.at)
	if !m.ok || !ok || wall <= 0 {
		return 0
	}
	return min(1, max(0, float64(s-m.stall)/float64(wall)))
}
