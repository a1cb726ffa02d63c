package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/reports"
)

func cmdBrowse(args []string, stdout io.Writer) (int, error) {
	pos, args := leading(args)
	fs := flags("browse")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if len(pos) != 1 {
		return 2, usagef("browse takes one results directory: simrun browse DIR [--addr HOST:PORT]")
	}
	if st, err := os.Stat(pos[0]); err != nil || !st.IsDir() {
		return 2, usagef("browse: %s is not a directory", pos[0])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := browse(ctx, pos[0], *addr, func(url string) {
		fmt.Fprintf(stdout, "serving %s at %s (Ctrl-C stops)\n", pos[0], url)
	})
	return 0, err
}

// browse serves dir read-only until ctx ends. Requests are bounded in time and header size,
// and only GET and HEAD are answered, so a browser tab left open costs nothing and a stray
// client cannot hold the server.
func browse(ctx context.Context, dir, addr string, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("browse: %v", err)
	}
	files := http.FileServer(http.Dir(dir))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		// A directory that run --out filled opens on its newest run.
		if r.URL.Path == "/" {
			if _, err := os.Stat(filepath.Join(dir, reports.Latest, "index.html")); err == nil {
				http.Redirect(w, r, "/"+reports.Latest+"/", http.StatusFound)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ready("http://" + ln.Addr().String() + "/")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shut)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
