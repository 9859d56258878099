package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// maxMemoryLimit is the soft memory limit the runtime keeps ccswitch under when GOMEMLIMIT
// is not set: GOGC=400 lets the heap grow to five times what is live between collections,
// which under a registration flood (a kilobyte of transaction state per REGISTER for Timer
// J's 32 s) took the process to 2.2 GB; with the limit the collector runs sooner instead.
// What ccswitch keeps live at the loads bench/sip reaches stays far below it (about 850 B
// per registration, 14-23 KB per call), so the limit costs no CPU there.
const maxMemoryLimit = 1 << 30

// memoryLimit is min(maxMemoryLimit, half the memory of the machine or of the cgroup).
func memoryLimit() int64 {
	limit := int64(maxMemoryLimit)
	total := cgroupMemory(readFile("/sys/fs/cgroup/memory.max"))
	if total <= 0 {
		total = memTotal(readFile("/proc/meminfo"))
	}
	if total > 0 && total/2 < limit {
		limit = total / 2
	}
	return limit
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// cgroupMemory parses cgroup v2's memory.max: bytes, or 0 for "max" (no limit) and junk.
func cgroupMemory(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// memTotal parses /proc/meminfo's MemTotal (kB) into bytes, 0 if absent.
func memTotal(s string) int64 {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
