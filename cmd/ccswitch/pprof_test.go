package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServePprof: the opt-in profile listener serves the index, the heap with the runtime's
// memory statistics (what bench/sip reads) and a short CPU profile, and stops with its context;
// an address it cannot listen on is an error at start.
func TestServePprof(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr, err := servePprof(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct{ path, want string }{
		{"/debug/pprof/", "heap"},
		{"/debug/pprof/heap?gc=1&debug=1", "# HeapAlloc = "},
		{"/debug/pprof/profile?seconds=1", ""},
	} {
		if code, body := get(c.path); code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d, body lacks %q: %.200s", c.path, code, c.want, body)
		}
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second) // the listener closes asynchronously to cancel
	for {
		if code, _ := get("/debug/pprof/"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still serving after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := servePprof(t.Context(), "127.0.0.1:notaport", slog.New(slog.DiscardHandler)); err == nil {
		t.Error("bad address: no error")
	}
}
