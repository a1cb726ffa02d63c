package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBrowseServesTheLatestRunReadOnly(t *testing.T) {
	dir := t.TempDir()
	if code, out, _ := simrun("run", "--scenario", "test_overlapped", "--seeds", "2", "--out", dir); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(filepath.Dir(dir), "secret"), []byte("outside"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- browse(ctx, dir, "127.0.0.1:0", func(u string) { urls <- u }) }()
	url := <-urls

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="scenarios"`) || !strings.HasSuffix(resp.Request.URL.Path, "/latest/") {
		t.Errorf("GET /: %d at %s, want the latest index.html", resp.StatusCode, resp.Request.URL)
	}
	resp, err = http.Post(url+"latest/index.html", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	resp, err = http.Get(url + "../secret")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "outside") {
		t.Error("browse served a file outside its directory")
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("browse after cancel: %v", err)
	}
	if code, _, _ := simrun("browse", filepath.Join(dir, "nope")); code != 2 {
		t.Errorf("browse of a missing directory: exit %d, want 2", code)
	}
}
