package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of the utime/stime fields of /proc/PID/stat (USER_HZ, 100 on every
// Linux x86-64 and arm64 kernel; the ABI fixes it).
const userHZ = 100

// process is a child program the harness started in its own process group, so that stopping
// it also stops whatever it forked (Kamailio's workers).
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
	err  error // Wait's result, valid after done is closed
}

// registry remembers every process the harness started, to stop them all on exit.
type registry struct {
	mu    sync.Mutex
	procs []*process
}

var children registry

// niceness is the -nice flag: the scheduling priority of every process the harness starts.
var niceness int

// start runs argv in dir with stdout and stderr going to logPath.
func start(name, dir, logPath string, argv ...string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if niceness != 0 {
		// nice(1) execs the program, so the pid stays the program's, and every worker it
		// forks inherits the priority.
		argv = append([]string{"nice", "-n", strconv.Itoa(niceness)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	children.mu.Lock()
	children.procs = append(children.procs, p)
	children.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit, or stops it when ctx ends first.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.stop(2 * time.Second)
		return ctx.Err()
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Workers that outlived their parent are in the same group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// stopAll stops every process started, newest first.
func (r *registry) stopAll() {
	r.mu.Lock()
	procs := append([]*process(nil), r.procs...)
	r.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(3 * time.Second)
	}
}

// exitCPU is the CPU time (user+system, all threads) of an exited process, from its rusage.
func (p *process) exitCPU() time.Duration {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// statCPU parses the text of /proc/PID/stat and returns utime+stime+cutime+cstime in clock
// ticks, and the parent pid. The command name (field 2) may hold spaces and parentheses, so
// fields are counted after its last ')'.
func statCPU(stat string) (ticks uint64, ppid int, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("proc stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime..cstime are fields 14..17.
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("proc stat: %d fields after comm", len(f))
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("proc stat: ppid: %w", err)
	}
	for _, s := range f[11:15] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("proc stat: cpu field %q: %w", s, err)
		}
		ticks += v
	}
	return ticks, ppid, nil
}

// procEntry is what treeCPU and treePIDs need of one /proc/PID/stat.
type procEntry struct {
	ticks uint64
	ppid  int
}

// procTable reads /proc/*/stat.
func procTable() map[int]procEntry {
	all := map[int]procEntry{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // exited meanwhile
		}
		ticks, ppid, err := statCPU(string(b))
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		all[p] = procEntry{ticks, ppid}
	}
	return all
}

// subtree returns pid and all its descendants found in all (nil if pid is not there).
func subtree(all map[int]procEntry, pid int) map[int]bool {
	if _, ok := all[pid]; !ok {
		return nil
	}
	in := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, e := range all {
			if !in[p] && in[e.ppid] {
				in[p] = true
				changed = true
			}
		}
	}
	return in
}

// treeCPU returns the CPU time of pid and of all its descendants (threads are included in a
// process's utime/stime; reaped children in cutime/cstime) and how many processes that was.
func treeCPU(pid int) (time.Duration, int) {
	all := procTable()
	in := subtree(all, pid)
	var ticks uint64
	for p := range in {
		ticks += all[p].ticks
	}
	return time.Duration(ticks) * time.Second / userHZ, len(in)
}

// treePIDs returns pid and its descendants.
func treePIDs(pid int) []int {
	var out []int
	for p := range subtree(procTable(), pid) {
		out = append(out, p)
	}
	return out
}

// hostTicks parses the aggregate "cpu" line of /proc/stat: busy = user+nice+system+irq+softirq
// and steal (time the hypervisor gave to someone else), in clock ticks.
func hostTicks(procStat string) (busy, steal uint64, err error) {
	line, _, _ := strings.Cut(procStat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("proc stat: first line %.40q", line)
	}
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("proc stat: %w", err)
		}
	}
	// user nice system idle iowait irq softirq steal
	return v[0] + v[1] + v[2] + v[5] + v[6], v[7], nil
}

// hostCPU reads /proc/stat; zeros when it cannot.
func hostCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	bt, st, err := hostTicks(string(b))
	if err != nil {
		return 0, 0
	}
	return time.Duration(bt) * time.Second / userHZ, time.Duration(st) * time.Second / userHZ
}
