//go:build unix

package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumBinary finds headless Chromium. A missing browser fails the test rather than
// skipping it, so a CI image without one cannot pass silently.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is needed to check that report.html renders, and neither chromium nor chromium-browser is in PATH; " +
		"install it with `apt-get install -y chromium` (Debian, Ubuntu: chromium-browser), then run the test again")
	return ""
}

// runChromium runs one headless Chromium on args and returns what it wrote to stdout. The
// browser gets its own process group, so a timeout kills its helpers too, and its own
// profile and home, so it never touches the user's.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1200,900",
		"--user-data-dir=" + filepath.Join(tmp, "profile"),
	}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	// Files rather than pipes: a helper that outlives the browser would hold a pipe open
	// and keep Wait waiting.
	stdout, err := os.Create(filepath.Join(tmp, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(tmp, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if cmd.Process != nil {
		// Helpers still running after the browser exited are ours to end.
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("killing the browser's process group: %v", kerr)
		}
	}
	logs, _ := os.ReadFile(stderr.Name())
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within 30s; stderr:\n%s", tail(logs))
	}
	if err != nil {
		t.Fatalf("chromium %s: %v; stderr:\n%s", strings.Join(args, " "), err, tail(logs))
	}
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// TestReportInChromium opens a report in headless Chromium: the DOM it builds holds the
// timeline and the highlighted violation, and a screenshot shows the violation's colour.
func TestReportInChromium(t *testing.T) {
	bin := chromiumBinary(t)
	h := genHistory(600, []client{{10, 1}, {30, 20}, {60, 50}}, 2, 40)
	f := Failure{
		Scenario: "browser", Seed: 9, Impl: "mutant:no-drain", Plan: struct{}{},
		History: h, Result: checked(t, h), Window: 150,
		Porcupine: []byte(`<!DOCTYPE html><p id="porcupine-stand-in">linearizability</p>`), PorcupineVerdict: "illegal",
	}
	dir := t.TempDir()
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, "failures", "browser-9-mutant_no-drain", "report.html")
	row := fmt.Sprintf(`<tr id="ev-%d" class="violation">`, f.Result.Violations[0].Index)

	t.Run("dom", func(t *testing.T) {
		t.Parallel()
		dom := string(runChromium(t, bin, "--dump-dom", url))
		for _, want := range []string{
			`<svg id="timeline"`,
			`<circle id="violation-0" class="violation"`,
			`<polygon class="online"`,
			`<circle class="deliver"`,
			row,
			`<iframe sandbox="allow-scripts"`,
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the DOM Chromium built lacks %q", want)
			}
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		t.Parallel()
		shot := filepath.Join(t.TempDir(), "report.png")
		runChromium(t, bin, "--screenshot="+shot, url)
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if sz := img.Bounds().Size(); sz.X < 800 || sz.Y < 600 {
			t.Fatalf("screenshot is %v", sz)
		}
		colours := map[[3]uint32]bool{}
		var ring, deliveries int
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				c := [3]uint32{r >> 8, g >> 8, b >> 8}
				colours[c] = true
				switch {
				case near(c, [3]uint32{0xd6, 0x00, 0x7e}): // the violation ring, and nothing else
					ring++
				case near(c, [3]uint32{0x1f, 0x6f, 0xd1}):
					deliveries++
				}
			}
		}
		t.Logf("screenshot: %d bytes, %d colours, %d ring pixels, %d delivery pixels", len(b), len(colours), ring, deliveries)
		if len(colours) < 50 || len(b) < 20_000 {
			t.Errorf("screenshot looks blank: %d bytes, %d colours", len(b), len(colours))
		}
		if ring < 20 {
			t.Errorf("the violation ring is not visible: %d pixels of its colour", ring)
		}
		if deliveries < 50 {
			t.Errorf("the timeline's deliveries are not visible: %d pixels of their colour", deliveries)
		}
	})
}

// near reports whether two 8-bit colours are within a small distance: anti-aliasing moves
// edge pixels, but not the middle of a stroke.
func near(a, b [3]uint32) bool {
	for i := range a {
		if a[i]+8 < b[i] || b[i]+8 < a[i] {
			return false
		}
	}
	return true
}
