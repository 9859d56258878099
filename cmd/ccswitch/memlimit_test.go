package main

import "testing"

func TestMemoryLimitParsing(t *testing.T) {
	for _, tc := range []struct {
		cgroup, meminfo string
		want            int64
	}{
		{"max\n", "MemTotal:       24683756 kB\nMemFree: 1 kB\n", 24683756 << 10},
		{"536870912\n", "MemTotal: 24683756 kB\n", 536870912},
		{"", "MemFree: 1 kB\n", 0},
		{"junk", "MemTotal: x kB\n", 0},
	} {
		got := cgroupMemory(tc.cgroup)
		if got <= 0 {
			got = memTotal(tc.meminfo)
		}
		if got != tc.want {
			t.Errorf("cgroup %q meminfo %q: %d, want %d", tc.cgroup, tc.meminfo, got, tc.want)
		}
	}
	if l := memoryLimit(); l <= 0 || l > maxMemoryLimit {
		t.Errorf("memoryLimit() = %d, want in (0, %d]", l, maxMemoryLimit)
	}
}
