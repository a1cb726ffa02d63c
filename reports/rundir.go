package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Latest is the link in a results directory to its newest run directory.
const Latest = "latest"

// NewRunDir makes a fresh directory for one run under parent, named by the start time (UTC)
// and the implementation, so runs against different implementations never mix and a reused
// parent never shows an earlier run's failures as this one's. It points parent/latest at it.
func NewRunDir(parent, impl string, start time.Time) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	base := start.UTC().Format("20060102-150405") + "-" + safeName(impl)
	name := base
	for n := 2; ; n++ {
		err := os.Mkdir(filepath.Join(parent, name), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if n > 100 {
			return "", fmt.Errorf("%s: 100 runs named %s already", parent, base)
		}
		name = fmt.Sprintf("%s-%d", base, n)
	}
	// Replace the link atomically: a reader never finds it missing.
	link := filepath.Join(parent, Latest)
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", fmt.Errorf("%s: %w (is %s a directory?)", link, err, Latest)
	}
	return filepath.Join(parent, name), nil
}
