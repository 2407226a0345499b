package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on every
// Linux architecture Go supports: `getconf CLK_TCK`).
const clockTick = 10 * time.Millisecond

// cpuSnapshot is the machine's and the server's CPU time at an instant.
type cpuSnapshot struct {
	at         time.Time
	busy, idle time.Duration // all CPUs together, from /proc/stat
	server     time.Duration // utime + stime of the server process
}

func takeCPU(pid int) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	if len(fields) < 9 || fields[0] != "cpu" {
		return s, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, f := range fields[1:9] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %w", err)
		}
		if i == 3 || i == 4 { // idle, iowait
			s.idle += time.Duration(n) * clockTick
		} else {
			s.busy += time.Duration(n) * clockTick
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		s.server += time.Duration(n) * clockTick
	}
	return s, nil
}

// cpuUse is where the CPU time of a run went.
type cpuUse struct {
	server, loadGen, other time.Duration
	capacity               time.Duration // wall time × CPUs
}

// otherShare is the share of the machine that processes other than the
// server and the load generator took during the run.
func (u cpuUse) otherShare() float64 {
	if u.capacity <= 0 {
		return 0
	}
	return float64(u.other) / float64(u.capacity)
}

func cpuBetween(before, after cpuSnapshot, loadGen time.Duration) cpuUse {
	u := cpuUse{
		server:   after.server - before.server,
		loadGen:  loadGen,
		capacity: (after.busy + after.idle) - (before.busy + before.idle),
	}
	u.other = max(0, (after.busy-before.busy)-u.server-loadGen)
	return u
}
