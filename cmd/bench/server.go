package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildServer builds the dashboard binary, as `make build` does, into dir.
func buildServer(ctx context.Context, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "dashboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/dashboard")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/dashboard: %w\n%s", err, out)
	}
	return bin, nil
}

// server is a running dashboard process.
type server struct {
	cmd       *exec.Cmd
	url       string        // http://127.0.0.1:PORT
	started   time.Time     // just before the process started
	listening time.Duration // after started, when its "listening" line was seen
	stderr    *tail
	logged    *logCounter // lines of its log, by message
	exited    chan struct{}
	err       error // of Wait, once exited is closed

	mu           sync.Mutex
	rssMax, hwm  int64 // kB, highest seen
	stopSampling chan struct{}
	stopOnce     sync.Once
}

// buildAsync builds the server in the background (while the caller seeds
// a database: they use different cores); the function it returns waits
// for the binary.
func buildAsync(ctx context.Context, moduleDir, dir string) func() (string, error) {
	type built struct {
		bin string
		err error
	}
	done := make(chan built, 1)
	go func() {
		bin, err := buildServer(ctx, moduleDir, dir)
		done <- built{bin, err}
	}()
	var once sync.Once
	var b built
	return func() (string, error) {
		once.Do(func() { b = <-done })
		return b.bin, b.err
	}
}

// createAdmin makes the workspace "Bench" and its admin in the database at
// dbPath, with the server's own command.
func createAdmin(ctx context.Context, bin, dbPath, email, password string) error {
	create := exec.CommandContext(ctx, bin, "admin", "create", "--db", dbPath, "--workspace", "Bench", "--email", email)
	create.Env = append(os.Environ(), "BLNK_ADMIN_PASSWORD="+password)
	if out, err := create.CombinedOutput(); err != nil {
		return fmt.Errorf("admin create: %w\n%s", err, out)
	}
	return nil
}

// logTo returns the bench's progress log on w.
func logTo(w io.Writer) func(string, ...any) {
	return func(format string, a ...any) { fmt.Fprintf(w, "bench: "+format+"\n", a...) }
}

// startServer starts bin serving the database of dsn (a SQLite file or a
// PostgreSQL URL) on a free loopback port, waits until /healthz answers
// and samples its resident memory meanwhile.
func startServer(ctx context.Context, bin, dsn string, extra ...string) (*server, error) {
	s, err := launch(bin, dsn, extra...)
	if err != nil {
		return nil, err
	}
	if err := s.waitListening(ctx, 2*time.Minute); err != nil {
		s.stop()
		return nil, err
	}
	if _, err := s.waitStatus(ctx, "/healthz", 30*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// launch starts bin serving the database of dsn on a free loopback port
// and starts sampling its resident memory, without waiting for it.
func launch(bin, dsn string, extra ...string) (*server, error) {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--db", dsn}, extra...) // default log level, as make run
	cmd := exec.Command(bin, args...)
	// The session secret is generated and kept in the database; make sure
	// no BLNK_* variable of the caller's shell changes the server.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BLNK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	s := &server{
		cmd:          cmd,
		stderr:       &tail{},
		logged:       &logCounter{},
		exited:       make(chan struct{}),
		stopSampling: make(chan struct{}),
	}
	cmd.Stderr = io.MultiWriter(s.stderr, s.logged)
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	go s.sample()
	return s, nil
}

var listeningURL = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)

// waitListening sets s.url from the server's "listening" log line, which
// it writes at any log level once the keys are loaded, and s.listening
// to when it was seen.
func (s *server) waitListening(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := listeningURL.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url, s.listening = m[1], time.Since(s.started)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before listening: %v\n%s", s.err, s.stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("server not listening after %s\n%s", limit, s.stderr.String())
}

// waitStatus asks path every 10 ms until it answers 200, and returns how
// long after the start of the process it did.
func (s *server) waitStatus(ctx context.Context, path string, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.url + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(s.started), nil
			}
		}
		select {
		case <-s.exited:
			return 0, fmt.Errorf("server exited: %v\n%s", s.err, s.stderr.String())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("%s%s not answering 200 after %s", s.url, path, limit)
}

// sample reads the server's resident memory every 100 ms until stopped.
func (s *server) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.readMemory()
		select {
		case <-s.stopSampling:
			return
		case <-s.exited:
			return
		case <-t.C:
		}
	}
}

func (s *server) readMemory() {
	rss, hwm, err := procMemory(s.cmd.Process.Pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.rssMax = max(s.rssMax, rss)
	s.hwm = max(s.hwm, hwm)
	s.mu.Unlock()
}

// memory returns the highest VmRSS sampled and the kernel's VmHWM (peak
// resident set) last read, in kB, reading them once more first.
func (s *server) memory() (rssMax, hwm int64) {
	s.readMemory()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rssMax, s.hwm
}

// currentRSS returns VmRSS now, in kB.
func (s *server) currentRSS() int64 {
	rss, _, _ := procMemory(s.cmd.Process.Pid)
	return rss
}

func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", name, val, err)
		}
		if name == "VmRSS" {
			rss = kb
		} else {
			hwm = kb
		}
	}
	return rss, hwm, nil
}

// stop ends the server with SIGTERM, as a service manager would, and
// kills it if it has not exited after 15 s. It returns the exit error.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return s.err
	default:
	}
	s.stopOnce.Do(func() { close(s.stopSampling) })
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.err
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server did not stop within 15 s of SIGTERM; killed")
	}
}

// tail keeps what a process writes to stderr, the last 1 MiB of it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2<<20 {
		// Move the last 1 MiB to the front: no copy is allocated.
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-1<<20:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
