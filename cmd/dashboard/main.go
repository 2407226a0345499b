// Command dashboard serves the Blnk Cloud API keys dashboard and its API,
// and administers it from a terminal.
//
//	dashboard [serve] [flags]                 serve the dashboard (the default)
//	dashboard admin create --workspace NAME --email EMAIL
//	                                          create a workspace and its admin; the
//	                                          password comes from BLNK_ADMIN_PASSWORD
//	                                          or standard input, never from a flag
//	dashboard members add --workspace NAME --email EMAIL --role ROLE
//	                                          add a person to a workspace (a new
//	                                          person's password as for admin create)
//	dashboard members list --workspace NAME   the members, with their ids
//	dashboard members reset-link --email EMAIL [--public-url URL]
//	dashboard members reset-2fa --email EMAIL [--yes]
//	                                          print a one-hour password reset link
//	dashboard keys verify [--scope S]         check a key read from standard input
//	dashboard keys revoke ID_OR_PREFIX        revoke a key at once, for incidents
//	dashboard keys roll ID_OR_PREFIX [--overlap 24h]
//	                                          replace a key; prints only the new key
//	dashboard audit export [--since 7d] [--format csv|json]
//	                                          the audit log, to standard output
//
// Every flag has an environment variable; run a command with -h for them.
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
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dashboard:", err)
		}
		os.Exit(2)
	}
}

// exitCode ends the program with a status and no message, for commands
// whose output already says what happened.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage:
  dashboard [serve] [flags]
  dashboard admin create --workspace NAME --email EMAIL   (password: BLNK_ADMIN_PASSWORD or stdin)
  dashboard members add --workspace NAME --email EMAIL --role owner|admin|member|viewer
                                                          (a new person's password: BLNK_ADMIN_PASSWORD or stdin)
  dashboard members list --workspace NAME
  dashboard members reset-link --email EMAIL --public-url URL   (prints a one-hour password reset link)
  dashboard members reset-2fa --email EMAIL [--yes]       (removes every second factor; confirm: the email on stdin)
  dashboard keys verify [--scope SCOPE]                   (key: stdin)
  dashboard keys revoke ID_OR_PREFIX
  dashboard keys roll ID_OR_PREFIX [--overlap now|1h|24h|7d]   (prints only the new key)
  As a client of a running dashboard (token: BLNK_TOKEN, a management token; --server or BLNK_SERVER):
  dashboard keys create --name NAME --scopes S1,S2 [--expires 30d|60d|90d|never|DATE] --server URL   (prints only the new key)
  dashboard keys list [--q S] [--status S] [--scope S] [--sort S] --server URL
  dashboard keys roll ID_OR_PREFIX [--overlap ...] --server URL
  dashboard keys revoke ID_OR_PREFIX --server URL
  dashboard audit export [--since 7d|DATE] [--format csv|json]`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	sub := ""
	if (cmd == "admin" || cmd == "keys" || cmd == "audit" || cmd == "members") && len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch cmd + " " + sub {
	case "serve ":
		return serve(ctx, args, stderr)
	case "admin create":
		return adminCreate(ctx, args, stdin, stdout, stderr)
	case "members add":
		return membersAdd(ctx, args, stdin, stdout, stderr)
	case "members list":
		return membersList(ctx, args, stdout, stderr)
	case "members reset-link":
		return membersResetLink(ctx, args, stdout, stderr)
	case "members reset-2fa":
		return membersResetTwoFactor(ctx, args, stdin, stdout, stderr)
	case "keys verify":
		return keysVerify(ctx, args, stdin, stdout, stderr)
	case "keys revoke":
		if remoteRequested(args) {
			return remoteRevoke(ctx, args, stdout, stderr)
		}
		return keysRevoke(ctx, args, stdout, stderr)
	case "keys roll":
		if remoteRequested(args) {
			return remoteRoll(ctx, args, stdout, stderr)
		}
		return keysRoll(ctx, args, stdout, stderr)
	case "keys create":
		return remoteCreate(ctx, args, stdout, stderr)
	case "keys list":
		return remoteList(ctx, args, stdout, stderr)
	case "audit export":
		return auditExport(ctx, args, stdout, stderr)
	}
	fmt.Fprintln(stderr, usage)
	return exitCode(2)
}

// env returns the environment variable name, or def when it is unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envParse is env for values that must parse (durations, numbers): a
// malformed value is reported rather than silently replaced by def.
func envParse[T any](name string, def T, parse func(string) (T, error)) (T, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def, nil
	}
	x, err := parse(v)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	return x, nil
}

// newFlagSet returns the flag set of a command (name), which reports
// errors and -h to stderr and returns them to the caller.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// dbFlag adds the database flag every command shares.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", env("BLNK_DB", "data/dashboard.db"), "SQLite database file (created if missing) or PostgreSQL URL postgres://user@host:5432/name (env BLNK_DB)")
}

// newLogger returns a logger writing to w at level ("debug", "info",
// "warn", "error") in format ("text" or "json").
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}
