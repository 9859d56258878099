package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidFile is where a running ccswitch writes its process id, in its data folder (which
// only one process at a time can open): `ccswitch drain` finds it there.
const pidFile = "ccswitch.pid"

// drainOnSignal is the graceful stop. The first SIGTERM or SIGINT makes SIP refuse new
// calls (503, OPTIONS too: sip.Server.Drain) while the calls in progress go on; stop is
// called once none is left, or after sip.drain_timeout (the calls still up are then ended
// by the SIP server's stop, with BYE), or at a second signal. With drain_timeout 0 the
// first signal stops at once. It returns when ctx ends or once it called stop.
func (p *process) drainOnSignal(ctx context.Context, sigs <-chan os.Signal, stop context.CancelFunc) {
	select {
	case <-ctx.Done():
		return
	case sig := <-sigs:
		p.log.Info("stop requested", "signal", sig.String())
	}
	timeout := time.Duration(p.drainTimeout.Load())
	if timeout <= 0 {
		stop()
		return
	}
	p.sip.Drain()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	lastLog := time.Now()
	for {
		n := p.sip.Calls()
		if n == 0 {
			p.log.Info("drained: no call in progress; stopping")
			stop()
			return
		}
		if time.Since(lastLog) >= 10*time.Second {
			p.log.Info("draining", "calls", n)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			p.log.Warn("second stop signal: ending the calls in progress now", "signal", sig.String(), "calls", n)
			stop()
			return
		case <-deadline.C:
			p.log.Warn("drain timeout: ending the calls still in progress", "calls", n, "drain_timeout", timeout)
			stop()
			return
		case <-poll.C:
		}
	}
}

// writePID records this process's id in the data folder for `ccswitch drain`; the returned
// function removes it.
func writePID(dataDir string) (func(), error) {
	path := filepath.Join(dataDir, pidFile)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// drain is `ccswitch drain`: it asks the ccswitch running on a data folder to stop
// gracefully (the same as SIGTERM) and, unless -wait=false, waits until it has stopped.
func drain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ccswitch drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "ccswitch-data", "data folder of the running ccswitch")
	wait := fs.Bool("wait", true, "wait until it has stopped")
	maxWait := fs.Duration("timeout", 0, "give up waiting after this long (0: no limit; the process stops after sip.drain_timeout anyway)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pid, err := readPID(*dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "ccswitch drain: %v\n", err)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		fmt.Fprintf(stderr, "ccswitch drain: pid %d: %v\n", pid, err)
		return 1
	}
	fmt.Fprintf(stdout, "ccswitch (pid %d): draining: new calls refused, stopping when the calls in progress end\n", pid)
	if !*wait {
		return 0
	}
	start := time.Now()
	for alive(pid) {
		if *maxWait > 0 && time.Since(start) > *maxWait {
			fmt.Fprintf(stderr, "ccswitch drain: pid %d still running after %s\n", pid, *maxWait)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "ccswitch (pid %d): stopped after %s\n", pid, time.Since(start).Round(time.Millisecond))
	return 0
}

func readPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no ccswitch running on %s (no %s)", dataDir, pidFile)
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: bad pid %q", filepath.Join(dataDir, pidFile), strings.TrimSpace(string(b)))
	}
	if !alive(pid) {
		return 0, fmt.Errorf("no ccswitch running on %s (pid %d is gone)", dataDir, pid)
	}
	// A stale pid file (after a crash) may name a process that reused the id: signal only
	// the process that holds the folder's database open (pebble's LOCK file).
	lock, err := filepath.Abs(filepath.Join(dataDir, "LOCK"))
	if err != nil {
		return 0, err
	}
	if !holdsFile(pid, lock) {
		return 0, fmt.Errorf("pid %d in %s does not hold %s open: not the ccswitch of this folder (stale pid file?)", pid, filepath.Join(dataDir, pidFile), lock)
	}
	return pid, nil
}

// holdsFile reports whether process pid has path open (its /proc/PID/fd links).
func holdsFile(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// alive reports whether process pid exists (and is not a zombie we could wait for: a
// stopped ccswitch is reaped by its parent, or is not our child at all).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name in parentheses: "Z" is a zombie.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}
