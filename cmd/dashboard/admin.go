package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/password"
)

// adminCreate creates a workspace and its Owner, for scripts and tests;
// a name another workspace has (in any case) is refused. The password is read from BLNK_ADMIN_PASSWORD or the first line
// of standard input: a flag would show it in the process list.
func adminCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newPersonCommand("admin create", stderr)
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	ws, err := blnk.CleanWorkspaceName(*c.workspace)
	if err != nil {
		return fmt.Errorf("--workspace: %v", err)
	}
	addr, err := c.emailArg()
	if err != nil {
		return err
	}
	hash, err := newPasswordHash(stdin)
	if err != nil {
		return err
	}
	store, err := db.Open(ctx, *c.dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	w, u, err := store.CreateWorkspaceAdmin(ctx, ws, addr, hash, time.Now())
	switch {
	case errors.Is(err, blnk.ErrEmailTaken):
		return fmt.Errorf("%s is already registered", addr)
	case errors.Is(err, blnk.ErrWorkspaceTaken):
		return fmt.Errorf("a workspace named %q exists already: add people to it with dashboard members add --workspace %q", ws, ws)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "created workspace %d %q with owner %s (user %d)\n", w.ID, w.Name, u.Email, u.ID)
	return nil
}

// keysVerify checks a key read from standard input, as the API would, and
// exits 0 if it is valid (and holds --scope), 1 if not.
func keysVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys verify", stderr)
	dbPath := dbFlag(fs)
	scope := fs.String("scope", "", "scope the key must allow, e.g. mcp:read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token, err := firstLine(stdin)
	if err != nil {
		return fmt.Errorf("read the key from standard input: %w", err)
	}
	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	// No Run: this check records no use.
	auth, err := keyauth.New(ctx, keyauth.Config{}, store, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer auth.Close()
	var id keyauth.Identity
	if *scope == "" {
		id, err = auth.Authenticate(ctx, token, "cli")
	} else {
		id, err = auth.Authorize(ctx, token, "cli", apikey.Scope(*scope))
	}
	if err != nil {
		p := keyauth.ProblemOf(err, apikey.Scope(*scope))
		fmt.Fprintf(stdout, "refused: %s (%d): %s\n", p.Code, p.Status, p.Message)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "valid: %s %q (%s...) in workspace %d %q\nscopes: %s\nexpires: %s\n",
		id.KeyID, id.Name, id.Prefix, id.WorkspaceID, id.Workspace, id.Scopes, timeOr(id.ExpiresAt, "never"))
	return nil
}

// keysRevoke revokes a key of any workspace by id or display prefix, and
// waits until the running servers have applied it; it says how many did
// (exit status 3 if not all of them within --revoke-wait).
func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newKeyCommand("revoke", "the revocation", stderr)
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 1 {
		return errors.New("usage: dashboard keys revoke ID_OR_PREFIX (e.g. key_... or blnk_fdb796a5)")
	}
	store, k, svc, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := svc.Revoke(ctx, audit.Actor{Kind: audit.CommandLine}, k.WorkspaceID, k.ID)
	if err != nil {
		return err
	}
	k = r.Key
	if !r.Revoked {
		fmt.Fprintf(stdout, "%s (%s...) %q was already revoked at %s\n", k.ID, k.Prefix, k.Name, k.RevokedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "revoked %s (%s...) %q in workspace %d at %s\n", k.ID, k.Prefix, k.Name, k.WorkspaceID, k.RevokedAt.Format(time.RFC3339))
	fmt.Fprintln(stdout, confirmationLine(store, r.Confirmation, *c.maxStale, "each refuses the key from its next request"))
	if !r.Confirmation.Complete() {
		return exitCode(3)
	}
	return nil
}

// keyCommand is what keys revoke and keys roll share: their flags, and
// the key their argument names.
type keyCommand struct {
	verb           string // revoke or roll
	fs             *flag.FlagSet
	dbPath         *string
	wait, maxStale *time.Duration
}

// newKeyCommand returns the flags of keys verb, whose change (what) the
// running servers apply.
func newKeyCommand(verb, what string, stderr io.Writer) *keyCommand {
	c := &keyCommand{verb: verb, fs: newFlagSet("keys "+verb, stderr)}
	c.dbPath = dbFlag(c.fs)
	c.wait = c.fs.Duration("revoke-wait", keys.DefaultRevokeWait, "how long to wait for each running server to apply "+what+" or stop trusting its memory (the servers' --revoke-wait)")
	c.maxStale = c.fs.Duration("max-staleness", keys.DefaultMaxStaleness, "servers not heard from for this long are not counted as running (the servers' --max-staleness)")
	return c
}

// open opens the database, finds the key of any workspace that the
// argument names (an id or a display prefix) and returns the keys service
// the command goes through. The caller closes the store.
func (c *keyCommand) open(ctx context.Context) (*db.DB, apikey.Key, *keys.Service, error) {
	target := strings.TrimSuffix(strings.TrimSpace(c.fs.Arg(0)), "...")
	store, err := db.Open(ctx, *c.dbPath)
	if err != nil {
		return nil, apikey.Key{}, nil, err
	}
	k, err := store.FindKey(ctx, target)
	switch {
	case errors.Is(err, blnk.ErrNotFound):
		err = fmt.Errorf("no key has the id or prefix %q", target)
	case errors.Is(err, blnk.ErrAmbiguous):
		err = fmt.Errorf("several keys have the prefix %q: %s by id", target, c.verb)
	}
	if err != nil {
		store.Close()
		return nil, apikey.Key{}, nil, err
	}
	svc := keys.New(keys.Config{RevokeWait: *c.wait, MaxStaleness: *c.maxStale}, store, nil, slog.New(slog.DiscardHandler))
	return store, k, svc, nil
}

// confirmationLine says how the running servers confirmed a revocation
// or a roll, and what applying it means (applied).
func confirmationLine(store *db.DB, c apikey.Confirmation, maxStale time.Duration, applied string) string {
	return confirmationText(store.Kind() == db.SQLite, c, maxStale, applied)
}

// confirmationText is confirmationLine for a database of a kind (SQLite
// or not), for the command line as a client too.
func confirmationText(sqlite bool, c apikey.Confirmation, maxStale time.Duration, applied string) string {
	switch {
	case c.Servers == 0:
		how := "they read it when they start"
		if sqlite {
			how = "a server started later reads it at start"
		}
		return fmt.Sprintf("no running server has been seen in the last %v: %s", maxStale, how)
	case c.Complete() && c.Lapsed == 0:
		return fmt.Sprintf("confirmed by %d of %d running servers in %s: %s", c.Confirmed, c.Servers, blnk.FormatDuration(c.Took), applied)
	case c.Complete():
		return fmt.Sprintf("confirmed by %d of %d running servers; %d stopped trusting %s within %s and %s 503 until %s the change",
			c.Confirmed, c.Servers, c.Lapsed, plural(c.Lapsed, "its memory", "their memory"), blnk.FormatDuration(c.Took),
			plural(c.Lapsed, "answers", "answer"), plural(c.Lapsed, "it reads", "they read"))
	}
	return fmt.Sprintf("WARNING: confirmed by only %d of %d running servers within %s, and %d stopped trusting their memory; the others may accept the old key until their lease (--max-staleness) runs out",
		c.Confirmed, c.Servers, blnk.FormatDuration(c.Took), c.Lapsed)
}

// plural returns one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// newPasswordHash reads a new password from BLNK_ADMIN_PASSWORD, else
// from the first line of stdin (never from a flag: it would show in the
// process list), checks it against the policy and hashes it.
func newPasswordHash(stdin io.Reader) (string, error) {
	pw, ok := os.LookupEnv("BLNK_ADMIN_PASSWORD")
	if !ok {
		var err error
		if pw, err = firstLine(stdin); err != nil {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
	}
	if err := password.Check(pw); err != nil {
		return "", fmt.Errorf("password: %v", err)
	}
	return password.DefaultHasher.Hash(pw)
}

// firstLine reads one line, without its line ending.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// keysRoll replaces a key of any workspace (by id or display prefix) by a
// new one with the same name, scopes, description and expiry policy, and
// prints the new key, once, to standard output and nothing else there, so
// that a script can capture it; what happened goes to standard error. The
// old key keeps working for --overlap. Like a revoke, it waits until the
// running servers have applied the roll; if some did not within
// --revoke-wait it warns on standard error, but still exits 0: the new
// key exists, and this was the only time it could be printed.
func keysRoll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newKeyCommand("roll", "the roll", stderr)
	overlapFlag := c.fs.String("overlap", string(apikey.DefaultRoll), "how long the old key keeps working: now, 1h, 24h or 7d")
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 1 {
		return errors.New("usage: dashboard keys roll ID_OR_PREFIX [--overlap now|1h|24h|7d]")
	}
	overlap, err := apikey.ParseOverlap(*overlapFlag)
	if err != nil {
		return fmt.Errorf("--overlap %q: use now, 1h, 24h or 7d", *overlapFlag)
	}
	store, k, svc, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := svc.Roll(ctx, audit.Actor{Kind: audit.CommandLine}, keys.RollSpec{
		WorkspaceID: k.WorkspaceID, ID: k.ID, Overlap: overlap, Revealed: true,
		FormToken: "cli-" + apikey.NewID(), // a fresh one: the command line never resubmits
	})
	now := time.Now()
	switch {
	case errors.Is(err, keys.ErrRevoked):
		return fmt.Errorf("%s (%s...) is revoked: there is nothing to roll", k.ID, k.Prefix)
	case errors.Is(err, keys.ErrExpired):
		return fmt.Errorf("%s (%s...) has expired: there is nothing to roll", k.ID, k.Prefix)
	case errors.Is(err, keys.ErrRolled):
		return fmt.Errorf("%s (%s...) was rolled already, into %s (%s...): roll that one", k.ID, k.Prefix, r.Old.RolledInto, r.Old.RolledIntoPrefix)
	case err != nil:
		return err
	}
	fmt.Fprintln(stdout, r.Token)
	fmt.Fprintf(stderr, "rolled %s (%s...) %q in workspace %d into %s (%s...)\n", r.Old.ID, r.Old.Prefix, r.Old.Name, r.Old.WorkspaceID, r.New.ID, r.New.Prefix)
	fmt.Fprintf(stderr, "the old key stops working at %s (%s)\n", r.Old.ExpiresAt.UTC().Format(time.RFC3339), blnk.Until(r.Old.ExpiresAt, now))
	fmt.Fprintln(stderr, "the new key above is shown once: store it now")
	fmt.Fprintln(stderr, confirmationLine(store, r.Confirmation, *c.maxStale, "each holds the old key's new end"))
	return nil
}

// auditExport writes audit events of every workspace (or one) to standard
// output as CSV or JSON, newest first, streamed.
func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit export", stderr)
	dbPath := dbFlag(fs)
	format := fs.String("format", "csv", "csv or json")
	since := fs.String("since", "", "only events at or after this: a date (2026-03-01), a time (RFC 3339), or a duration ago (24h, 7d)")
	until := fs.String("until", "", "only events before this, in the same forms as --since")
	workspace := fs.Int64("workspace", 0, "only this workspace's events (its id); default: every workspace")
	action := fs.String("action", "", "only this action, e.g. key.rolled")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit export: unexpected argument %q", fs.Arg(0))
	}
	now := time.Now()
	var f blnk.AuditFilter
	var err error
	if f.Since, err = parseWhen(*since, now); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if f.Until, err = parseWhen(*until, now); err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	f.WorkspaceID = *workspace
	if *action != "" {
		if !audit.Known(audit.Action(*action)) {
			return fmt.Errorf("--action %q: no such action", *action)
		}
		f.Action = audit.Action(*action)
	}
	ex, err := audit.NewExporter(*format, stdout, true)
	if err != nil {
		return fmt.Errorf("--format %q: use csv or json", *format)
	}
	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	n := 0
	if err := store.EachAuditEvent(ctx, f, func(ev audit.Event) error {
		n++
		return ex.Write(ev)
	}); err != nil {
		return err
	}
	if err := ex.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d events\n", n)
	return nil
}

// parseWhen reads --since and --until: "" (no bound), a date, an RFC 3339
// time, or a duration before now ("24h", "7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(apikey.DateLayout, s); err == nil {
		return t, nil
	}
	if d, err := parseDays(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: use a date (2026-03-01), a time (2026-03-01T12:00:00Z) or a duration ago (24h, 7d)", s)
}

// parseDays is time.ParseDuration that also takes whole days ("90d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("%q: not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
