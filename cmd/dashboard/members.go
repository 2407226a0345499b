package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/accounts"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/members"
	"github.com/blnk-cloud/apikeys/internal/passkeys"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
)

// membersAdd makes a person a member of a workspace with a role, for
// scripts and for Owners locked out of the browser. A person without an
// account gets one; their password comes from BLNK_ADMIN_PASSWORD or the
// first line of standard input, never from a flag.
func membersAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newPersonCommand("members add", stderr)
	roleFlag := c.fs.String("role", "", "owner, admin, member or viewer (required)")
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	addr, err := c.emailArg()
	if err != nil {
		return err
	}
	role, err := blnk.ParseRole(*roleFlag)
	if err != nil {
		return fmt.Errorf("--role %q: use owner, admin, member or viewer", *roleFlag)
	}
	store, ws, err := openWorkspace(ctx, *c.dbPath, *c.workspace)
	if err != nil {
		return err
	}
	defer store.Close()
	hash := ""
	if _, err := store.FindUser(ctx, addr); errors.Is(err, blnk.ErrNotFound) {
		if hash, err = newPasswordHash(stdin); err != nil {
			return fmt.Errorf("%s has no account: %w", addr, err)
		}
	} else if err != nil {
		return err
	}
	svc := members.New(store, nil, time.Now, slog.New(slog.DiscardHandler))
	u, created, err := svc.Add(ctx, ws.ID, addr, hash, role)
	if errors.Is(err, blnk.ErrAlreadyMember) {
		return fmt.Errorf("%s is a member of %q already: change their role on the members page", addr, ws.Name)
	}
	if err != nil {
		return err
	}
	who := "an existing person"
	if created {
		who = "a new person"
	}
	fmt.Fprintf(stdout, "added %s (user %d, %s) to workspace %d %q as %s\n", u.Email, u.ID, who, ws.ID, ws.Name, role.Label())
	return nil
}

// membersList prints a workspace's members, one a line: the id the
// members page's links use, the email, the role and the last sign-in.
func membersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("members list", stderr)
	dbPath := dbFlag(fs)
	workspace := workspaceFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, ws, err := openWorkspace(ctx, *dbPath, *workspace)
	if err != nil {
		return err
	}
	defer store.Close()
	ms, err := store.ListMembers(ctx, ws.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-8s %-40s %-7s %s\n", "ID", "EMAIL", "ROLE", "LAST SIGN-IN")
	for _, m := range ms {
		fmt.Fprintf(stdout, "%-8d %-40s %-7s %s\n", m.User.ID, m.User.Email, m.Role, timeOr(m.LastSignInAt, "never"))
	}
	return nil
}

// personCommand is what admin create and members add share: the flags
// naming a workspace and a person in it.
type personCommand struct {
	fs                       *flag.FlagSet
	dbPath, workspace, email *string
}

// newPersonCommand returns the flags of the command name.
func newPersonCommand(name string, stderr io.Writer) *personCommand {
	c := &personCommand{fs: newFlagSet(name, stderr)}
	c.dbPath = dbFlag(c.fs)
	c.workspace = workspaceFlag(c.fs)
	c.email = emailFlag(c.fs)
	return c
}

// emailArg is the checked --email.
func (c *personCommand) emailArg() (string, error) { return emailArg(*c.email) }

// workspaceFlag adds --workspace, the name of the workspace a command
// works in.
func workspaceFlag(fs *flag.FlagSet) *string {
	return fs.String("workspace", "", "the workspace's name (required)")
}

// emailFlag adds --email, the person a command is about; emailArg checks
// it.
func emailFlag(fs *flag.FlagSet) *string {
	return fs.String("email", "", "the person's email (required)")
}

// emailArg checks --email.
func emailArg(email string) (string, error) {
	addr, err := blnk.CleanEmail(email)
	if err != nil {
		return "", fmt.Errorf("--email: %v", err)
	}
	return addr, nil
}

// openWorkspace opens the database and finds the workspace --workspace
// names. The caller closes the store.
func openWorkspace(ctx context.Context, dbPath, name string) (*db.DB, blnk.Workspace, error) {
	store, err := db.Open(ctx, dbPath)
	if err != nil {
		return nil, blnk.Workspace{}, err
	}
	ws, err := findWorkspace(ctx, store, name)
	if err != nil {
		store.Close()
		return nil, blnk.Workspace{}, err
	}
	return store, ws, nil
}

// findWorkspace finds a workspace by name, for --workspace.
func findWorkspace(ctx context.Context, store *db.DB, name string) (blnk.Workspace, error) {
	clean, err := blnk.CleanWorkspaceName(name)
	if err != nil {
		return blnk.Workspace{}, fmt.Errorf("--workspace: %v", err)
	}
	ws, err := store.FindWorkspace(ctx, clean)
	if errors.Is(err, blnk.ErrNotFound) {
		return blnk.Workspace{}, fmt.Errorf("no workspace is named %q", clean)
	}
	return ws, err
}

// membersResetLink prints a one-hour password reset link for the person
// with --email: the way back in for an Owner locked out of the browser.
// The link starts with --public-url. Every session of the person ends
// when the link is used.
func membersResetLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("members reset-link", stderr)
	dbPath := dbFlag(fs)
	email := emailFlag(fs)
	publicURL := publicURLFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	addr, err := emailArg(*email)
	if err != nil {
		return err
	}
	public, err := parsePublicURL(*publicURL)
	if err != nil {
		return err
	}
	if public == "" {
		return errors.New("--public-url (env BLNK_PUBLIC_URL) is needed: the link starts with the dashboard's address, e.g. https://keys.example.com")
	}
	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := accounts.New(accounts.Config{Now: time.Now}, store, slog.New(slog.DiscardHandler))
	token, u, err := svc.ResetLinkFor(ctx, addr)
	if errors.Is(err, blnk.ErrNotFound) {
		return fmt.Errorf("no account has the email %s", addr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "password reset link for %s (user %d), valid for an hour, once; it signs out all their sessions:\n", u.Email, u.ID)
	fmt.Fprintln(stdout, public+"/password/reset/"+token)
	return nil
}

// membersResetTwoFactor removes every second factor of the person with
// --email (their authenticator app, its recovery codes, their passkeys)
// and ends their sessions on every server: the way back in for a person
// who lost them all. It says what it will remove and asks for the email
// again on standard input, unless --yes. Each removal is audited
// (two_factor.disabled, passkey.removed, session.revoked) by the command
// line, in each workspace of the person. Their password then signs in
// alone; a workspace that requires a second factor sends them to set one
// up first.
func membersResetTwoFactor(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("members reset-2fa", stderr)
	dbPath := dbFlag(fs)
	email := emailFlag(fs)
	yes := fs.Bool("yes", false, "do not ask for the email again (for scripts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addr, err := emailArg(*email)
	if err != nil {
		return err
	}
	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.FindUser(ctx, addr)
	if errors.Is(err, blnk.ErrNotFound) {
		return fmt.Errorf("no account has the email %s", addr)
	}
	if err != nil {
		return err
	}
	f, err := store.FindFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	if !f.TOTP && f.Passkeys == 0 {
		fmt.Fprintf(stdout, "%s (user %d) has no second factor: nothing to remove\n", u.Email, u.ID)
		return nil
	}
	what := []string{}
	if f.TOTP {
		what = append(what, fmt.Sprintf("their authenticator app and its recovery codes (%d left)", f.RecoveryLeft))
	}
	if f.Passkeys > 0 {
		what = append(what, count(int64(f.Passkeys), "passkey", "passkeys"))
	}
	fmt.Fprintf(stderr, "this removes %s of %s (user %d) and signs them out everywhere; their password then signs in alone\n", strings.Join(what, " and "), u.Email, u.ID)
	if !*yes {
		fmt.Fprint(stderr, "type their email again to confirm: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if typed, _ := blnk.CleanEmail(strings.TrimSpace(line)); typed != u.Email {
			return errors.New("not confirmed: nothing was changed")
		}
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	by := audit.Actor{Kind: audit.CommandLine}
	// Reset and RemoveAll neither seal, check nor sign anything: the
	// services need no real keys or relying party for them.
	var noKey [32]byte
	if _, err := rand.Read(noKey[:]); err != nil {
		return err
	}
	factors, err := twofactor.New(store, noKey[:], time.Now, log)
	if err != nil {
		return err
	}
	keys, err := passkeys.New(passkeys.Config{RPID: "localhost", Origins: []string{"http://localhost"}}, store, log)
	if err != nil {
		return err
	}
	hadTOTP, err := factors.Reset(ctx, by, u)
	if err != nil {
		return err
	}
	removed, err := keys.RemoveAll(ctx, by, u)
	if err != nil {
		return err
	}
	ended, err := accounts.New(accounts.Config{Now: time.Now}, store, log).SignOutEverywhere(ctx, by, u)
	if err != nil {
		return err
	}
	done := []string{}
	if hadTOTP {
		done = append(done, "the authenticator app and its recovery codes")
	}
	done = append(done, count(int64(len(removed)), "passkey", "passkeys"))
	fmt.Fprintf(stdout, "removed from %s (user %d): %s; %s ended\n", u.Email, u.ID, strings.Join(done, ", "), count(ended, "session", "sessions"))
	return nil
}

// count is "1 thing" or "n things".
func count(n int64, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(int(n), one, many))
}
