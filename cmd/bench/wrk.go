package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ensureWrk returns the path of wrk, installing the Debian package when it
// is missing: as root with apt-get, else through sudo when it needs no
// password.
func ensureWrk(ctx context.Context, log func(string, ...any)) (string, error) {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p, nil
	}
	var prefix []string
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			return "", errors.New("wrk is not installed and this user cannot install it: run `sudo apt-get install -y wrk`")
		}
		prefix = []string{"sudo", "-n"}
	}
	log("wrk not found: installing the Debian package")
	install := func(args ...string) error {
		all := append(append([]string(nil), prefix...), args...)
		cmd := exec.CommandContext(ctx, all[0], all[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(all, " "), err, out)
		}
		return nil
	}
	if err := install("apt-get", "install", "-y", "wrk"); err != nil {
		// Maybe the package lists are stale or absent.
		if err := install("apt-get", "update"); err != nil {
			return "", err
		}
		if err := install("apt-get", "install", "-y", "wrk"); err != nil {
			return "", err
		}
	}
	return exec.LookPath("wrk")
}

// wrkScript drives every scenario the same way, so that the load
// generator's own cost is the same in each and the ratios measure the
// server: init builds the requests once (one, or one per key of a file,
// with wrk.format), request() picks one at random, response() counts the
// statuses, done() prints what the bench parses.
//
// Arguments (after --): path, key file ("-" for no key), expected statuses
// ("200" or "401,429").
const wrkScript = `
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local expected = {}
seen = ""      -- distinct statuses, as " 200 401", read by done()
unexpected = 0 -- responses with a status not in expected

function init(args)
  local path, keyfile = args[1], args[2]
  for code in string.gmatch(args[3], "%d+") do
    expected[tonumber(code)] = true
  end
  if keyfile == "-" then
    reqs[1] = wrk.format("GET", path, {})
  else
    for line in io.lines(keyfile) do
      if line ~= "" then
        reqs[#reqs + 1] = wrk.format("GET", path, {["Authorization"] = "Bearer " .. line})
      end
    end
  end
  n = #reqs
  if n == 0 then
    error("no keys in " .. keyfile)
  end
  math.randomseed(os.time() + (tonumber(tostring(reqs):match("0x(%x+)"), 16) or 0) % 1000003)
end

function request()
  return reqs[math.random(n)]
end

function response(status, headers, body)
  local name = "s" .. status
  local c = _G[name]
  if c == nil then
    seen = seen .. " " .. status
    c = 0
  end
  _G[name] = c + 1
  if not expected[status] then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local counts = {}
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("unexpected")
    for code in string.gmatch(t:get("seen"), "%d+") do
      counts[code] = (counts[code] or 0) + t:get("s" .. code)
    end
  end
  local parts = {}
  for code, c in pairs(counts) do
    parts[#parts + 1] = code .. ":" .. c
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f unexpected=%d connect=%d read=%d write=%d timeout=%d statuses=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, bad, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
`

// result is one wrk run.
type result struct {
	requests   int64
	duration   time.Duration
	reqPerSec  float64
	p50, p99   time.Duration
	unexpected int64
	sockErrs   string // "" when none
	statuses   map[int]int64
	raw        string // wrk's whole output
	cpu        cpuUse
}

// serverCPUPerReq is the server's CPU time per request of the run.
func (r result) serverCPUPerReq() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu.server / time.Duration(r.requests)
}

// loadGen runs wrk with the bench's settings.
type loadGen struct {
	wrk         string
	script      string
	threads     int
	connections int
	timeout     time.Duration
}

// run loads path of srv for d, sending the keys of keyFile ("-": none),
// and accounts for the CPU time the server, wrk and everything else used.
func (g loadGen) run(ctx context.Context, srv *server, path, keyFile, expect string, d time.Duration) (result, error) {
	url := srv.url
	args := []string{
		"-t", strconv.Itoa(g.threads), "-c", strconv.Itoa(g.connections),
		"-d", strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s",
		"--timeout", strconv.Itoa(int(g.timeout/time.Second)) + "s",
		"--latency", "-s", g.script, url + path, "--", path, keyFile, expect,
	}
	cmd := exec.CommandContext(ctx, g.wrk, args...)
	before, err := takeCPU(srv.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	after, err := takeCPU(srv.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	r.cpu = cpuBetween(before, after, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	return r, nil
}

// parseWrk reads the BENCH line of the script's done() and wrk's own
// Requests/sec line.
func parseWrk(out string) (result, error) {
	r := result{raw: out, statuses: map[int]int64{}}
	var line string
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "BENCH "); ok {
			line = rest
		}
		if rest, ok := strings.CutPrefix(l, "Requests/sec:"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return result{}, fmt.Errorf("wrk's Requests/sec: %w", err)
			}
			r.reqPerSec = v
		}
	}
	if line == "" || r.reqPerSec == 0 {
		return result{}, errors.New("no results in wrk's output")
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	num := func(k string) float64 {
		v, _ := strconv.ParseFloat(fields[k], 64)
		return v
	}
	us := func(k string) time.Duration { return time.Duration(num(k) * float64(time.Microsecond)) }
	r.requests = int64(num("requests"))
	r.duration = us("duration_us")
	r.p50, r.p99 = us("p50_us"), us("p99_us")
	r.unexpected = int64(num("unexpected"))
	var errs []string
	for _, k := range []string{"connect", "read", "write", "timeout"} {
		if n := int64(num(k)); n > 0 {
			errs = append(errs, fmt.Sprintf("%s %d", k, n))
		}
	}
	r.sockErrs = strings.Join(errs, ", ")
	for _, kv := range strings.Split(fields["statuses"], ",") {
		code, count, ok := strings.Cut(kv, ":")
		if !ok {
			continue
		}
		c, _ := strconv.Atoi(code)
		n, _ := strconv.ParseInt(count, 10, 64)
		r.statuses[c] += n
	}
	return r, nil
}

// statusSummary says which statuses came back, e.g. "200×1234567".
func (r result) statusSummary() string {
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, r.statuses[c]))
	}
	return strings.Join(parts, " ")
}

// writeLines writes one token a line to dir/name.
func writeLines(dir, name string, lines []string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
