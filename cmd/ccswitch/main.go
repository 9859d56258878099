// Command ccswitch runs the contact-center core: SIP registrar and B2BUA, media, IVR, ACD,
// text channels and the agent desktop, in one process.
//
//	ccswitch [-config FILE|DIR] [-data DIR] [-log-level debug|info|warn|error] [-pprof ADDR]
//	ccswitch check [-config FILE|DIR]
//	ccswitch drain [-data DIR] [-wait=false] [-timeout D]
//
// With no -config it runs the embedded demo configuration (configs/ccswitch.yaml, loopback
// only). SIGHUP reloads the configuration without dropping calls. SIGTERM, SIGINT or
// `ccswitch drain` stop gracefully: new calls are refused with 503 while the calls in
// progress go on, for up to sip.drain_timeout; a second signal stops at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // calendars work on hosts without a zoneinfo database

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/store"
)

func main() {
	tune()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tune sets the process-wide knobs of the runtime and of sipgo, once, before anything starts.
func tune() {
	// sipgo refuses to send any UDP message over UDPMTUSize-200 bytes (1300 by default), so a
	// 200 OK with a rich SDP would be dropped silently; it has no fallback to TCP. Large UDP
	// messages are fragmented by IP instead, which loopback and most LANs carry.
	gsip.UDPMTUSize = 65535
	// Call setup allocates per message; GOGC=400 trades memory for ~20 % less CPU per call
	// (bench/sip). An explicit GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// ... and a soft memory limit bounds what that costs in RSS under a flood (memlimit.go).
	// An explicit GOMEMLIMIT wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit())
	}
}

// run is main without the process around it, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return check(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "drain" {
		return drain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ccswitch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file or folder (default: the embedded demo config)")
	dataDir := fs.String("data", "ccswitch-data", "folder where ccswitch keeps its database")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pprofAddr := fs.String("pprof", "", "serve Go runtime profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off by default; no authentication: loopback only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "ccswitch: -log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))

	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "ccswitch: invalid configuration:\n%v\n", err)
		return 1
	}
	if *cfgPath == "" {
		log.Warn("running the embedded demo configuration: its secrets are public; use -config for anything but a loopback demo")
	}

	st, err := store.Open(*dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "ccswitch: %v\n", err)
		return 1
	}
	defer st.Close()

	removePID, err := writePID(*dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "ccswitch: %v\n", err)
		return 1
	}
	defer removePID()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	if *pprofAddr != "" {
		if _, err := servePprof(ctx, *pprofAddr, log); err != nil {
			fmt.Fprintf(stderr, "ccswitch: %v\n", err)
			return 1
		}
	}

	p, err := newProcess(cfg, st, *dataDir, log)
	if err != nil {
		fmt.Fprintf(stderr, "ccswitch: %v\n", err)
		return 1
	}

	go p.drainOnSignal(ctx, sigs, stop)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				next, err := loadConfig(*cfgPath)
				if err != nil {
					log.Error("reload refused: invalid configuration; keeping the running one", "error", err)
					continue
				}
				if err := p.reload(ctx, next); err != nil {
					log.Error("reload refused; keeping the running configuration", "error", err)
					continue
				}
				log.Info("configuration reloaded")
			}
		}
	}()

	go func() {
		select {
		case <-p.sip.Ready():
			log.Info("ccswitch ready", "sip_udp", cfg.SIP.UDP, "sip_tcp", cfg.SIP.TCP, "sip_tls", cfg.SIP.TLS.Listen, "http", cfg.HTTP.Listen)
		case <-ctx.Done():
		}
	}()
	if err := p.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "ccswitch: %v\n", err)
		return 1
	}
	log.Info("ccswitch stopped")
	return 0
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// check validates a configuration without starting anything: every problem is printed with
// its file, line and field, and the exit status is 1 if there is any.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ccswitch check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file or folder (default: the embedded demo config)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := loadConfig(*cfgPath); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	name := *cfgPath
	if name == "" {
		name = "embedded demo configuration"
	}
	fmt.Fprintf(stdout, "%s: ok\n", name)
	return 0
}
