package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's runtime profiles (/debug/pprof/…) on addr until ctx ends. It is off
// unless -pprof is given, and meant for a loopback address: the profiles show the process's
// code paths and memory, and the listener has no authentication. bench/sip uses it to profile
// ccswitch under load and to read its live heap. The handlers are mounted on a private mux:
// nothing serves http.DefaultServeMux, where importing net/http/pprof also registers them.
//
// It returns the address it listens on.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go func() {
		if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Warn("pprof listener stopped", "error", err)
		}
	}()
	log.Info("pprof listening (no authentication: keep it on loopback)", "addr", ln.Addr().String())
	return ln.Addr().String(), nil
}
