package main

// The command line as a client of the management API (web/README.md
// "Management API"): keys create, list, roll and revoke with --server
// talk to a running dashboard over HTTP with the management token in
// BLNK_TOKEN (never a flag: it would show in the process list and the
// shell history), so that a CI job can roll a key without access to the
// database. roll and revoke print what the local commands print.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/web/apiv1"
)

// remoteRequested reports whether args (a keys command's) name a server:
// --server, or BLNK_SERVER in the environment.
func remoteRequested(args []string) bool {
	if os.Getenv("BLNK_SERVER") != "" {
		return true
	}
	for _, a := range args {
		if a == "--server" || a == "-server" || strings.HasPrefix(a, "--server=") || strings.HasPrefix(a, "-server=") {
			return true
		}
	}
	return false
}

// apiClient calls a dashboard's management API.
type apiClient struct {
	base   string
	token  string
	client *http.Client
}

// serverFlag adds --server to fs.
func serverFlag(fs *flag.FlagSet) *string {
	return fs.String("server", env("BLNK_SERVER", ""), "the dashboard to call, e.g. https://keys.example.com (env BLNK_SERVER); the management token comes from BLNK_TOKEN")
}

func newAPIClient(server string) (*apiClient, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: give the dashboard's address, such as https://keys.example.com", server)
	}
	token := strings.TrimSpace(os.Getenv("BLNK_TOKEN"))
	if token == "" {
		return nil, errors.New("set BLNK_TOKEN to a management token (blnkm_...), made at /settings/tokens")
	}
	if _, err := apikey.ParseManagement(token); err != nil {
		if _, kerr := apikey.Parse(token); kerr == nil {
			return nil, errors.New("BLNK_TOKEN holds an API key (blnk_...): the management API takes a management token (blnkm_...), made at /settings/tokens")
		}
		return nil, errors.New("BLNK_TOKEN is not a management token (blnkm_...)")
	}
	return &apiClient{base: strings.TrimSuffix(u.String(), "/"), token: token, client: &http.Client{Timeout: 60 * time.Second}}, nil
}

// apiFailure is an error answer of the API.
type apiFailure struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (f *apiFailure) Error() string {
	s := fmt.Sprintf("%s (%d): %s", f.Code, f.Status, f.Message)
	for k, v := range f.Fields {
		s += fmt.Sprintf("\n  %s: %s", k, v)
	}
	return s
}

// call sends a request with body (nil: none) and decodes the answer into
// out; an error answer is an *apiFailure.
func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e apiv1.Error
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &apiFailure{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(raw))}
		}
		return &apiFailure{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Fields: e.Error.Fields}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the server's answer is not what this command expects: %w", err)
		}
	}
	return nil
}

// remoteCommand is what the keys commands with --server share: their
// flags, --server among them, and the client of that server.
type remoteCommand struct {
	fs     *flag.FlagSet
	server *string
}

// newRemoteCommand returns the flags of the command name.
func newRemoteCommand(name string, stderr io.Writer) *remoteCommand {
	c := &remoteCommand{fs: newFlagSet(name, stderr)}
	c.server = serverFlag(c.fs)
	return c
}

// client returns the client of --server.
func (c *remoteCommand) client() (*apiClient, error) { return newAPIClient(*c.server) }

// open connects to --server and finds the key that the argument (an id
// or a display prefix) names, for keys verb: keyCommand.open's client
// side.
func (c *remoteCommand) open(ctx context.Context, verb string) (*apiClient, apiv1.Key, error) {
	a, err := c.client()
	if err != nil {
		return nil, apiv1.Key{}, err
	}
	k, err := a.findKey(ctx, c.fs.Arg(0), verb)
	return a, k, err
}

// findKey returns the key an id or display prefix names.
func (a *apiClient) findKey(ctx context.Context, target, verb string) (apiv1.Key, error) {
	target = strings.TrimSuffix(strings.TrimSpace(target), "...")
	if apikey.ValidID(target) {
		var k apiv1.Key
		err := a.call(ctx, http.MethodGet, "/api/v1/keys/"+target, nil, &k)
		if f, ok := errors.AsType[*apiFailure](err); ok && f.Status == http.StatusNotFound {
			return k, fmt.Errorf("no key has the id or prefix %q", target)
		}
		return k, err
	}
	var page apiv1.Page[apiv1.Key]
	if err := a.call(ctx, http.MethodGet, "/api/v1/keys?limit=200&q="+url.QueryEscape(target), nil, &page); err != nil {
		return apiv1.Key{}, err
	}
	var found []apiv1.Key
	for _, k := range page.Data {
		if k.Prefix == target {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return apiv1.Key{}, fmt.Errorf("no key has the id or prefix %q", target)
	case 1:
		return found[0], nil
	}
	return apiv1.Key{}, fmt.Errorf("several keys have the prefix %q: %s by id", target, verb)
}

// remoteRevoke is keys revoke --server: the local command's output.
func remoteRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newRemoteCommand("keys revoke", stderr)
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 1 {
		return errors.New("usage: dashboard keys revoke ID_OR_PREFIX --server URL (token: BLNK_TOKEN)")
	}
	a, k, err := c.open(ctx, "revoke")
	if err != nil {
		return err
	}
	var r apiv1.RevokedKey
	if err := a.call(ctx, http.MethodPost, "/api/v1/keys/"+k.ID+"/revoke", nil, &r); err != nil {
		return err
	}
	k = r.Key
	revokedAt := ""
	if k.RevokedAt != nil {
		revokedAt = k.RevokedAt.Format(time.RFC3339)
	}
	if !r.Revoked {
		fmt.Fprintf(stdout, "%s (%s...) %q was already revoked at %s\n", k.ID, k.Prefix, k.Name, revokedAt)
		return nil
	}
	fmt.Fprintf(stdout, "revoked %s (%s...) %q in workspace %d at %s\n", k.ID, k.Prefix, k.Name, k.WorkspaceID, revokedAt)
	conf := r.Result()
	fmt.Fprintln(stdout, confirmationText(false, conf, keys.DefaultMaxStaleness, "each refuses the key from its next request"))
	if !conf.Complete() {
		return exitCode(3)
	}
	return nil
}

// remoteRoll is keys roll --server: the new key alone on standard
// output, the rest on standard error, as the local command.
func remoteRoll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newRemoteCommand("keys roll", stderr)
	overlap := c.fs.String("overlap", string(apikey.DefaultRoll), "how long the old key keeps working: now, 1h, 24h or 7d")
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 1 {
		return errors.New("usage: dashboard keys roll ID_OR_PREFIX [--overlap now|1h|24h|7d] --server URL (token: BLNK_TOKEN)")
	}
	if _, err := apikey.ParseOverlap(*overlap); err != nil {
		return fmt.Errorf("--overlap %q: use now, 1h, 24h or 7d", *overlap)
	}
	a, k, err := c.open(ctx, "roll")
	if err != nil {
		return err
	}
	var r apiv1.RolledKey
	if err := a.call(ctx, http.MethodPost, "/api/v1/keys/"+k.ID+"/roll", map[string]string{"overlap": *overlap}, &r); err != nil {
		if f, ok := errors.AsType[*apiFailure](err); ok && f.Status == http.StatusConflict {
			return fmt.Errorf("%s (%s...): %s", k.ID, k.Prefix, f.Message)
		}
		return err
	}
	old := r.Replaced
	fmt.Fprintln(stdout, r.Secret)
	fmt.Fprintf(stderr, "rolled %s (%s...) %q in workspace %d into %s (%s...)\n", old.ID, old.Prefix, old.Name, old.WorkspaceID, r.ID, r.Prefix)
	if old.ExpiresAt != nil {
		fmt.Fprintf(stderr, "the old key stops working at %s (%s)\n", old.ExpiresAt.UTC().Format(time.RFC3339), blnk.Until(*old.ExpiresAt, time.Now()))
	}
	fmt.Fprintln(stderr, "the new key above is shown once: store it now")
	fmt.Fprintln(stderr, confirmationText(false, r.Confirmation.Result(), keys.DefaultMaxStaleness, "each holds the old key's new end"))
	return nil
}

// remoteCreate is keys create --server: like roll, the new key alone on
// standard output, what was made on standard error.
func remoteCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newRemoteCommand("keys create", stderr)
	name := c.fs.String("name", "", "the key's name")
	scopes := c.fs.String("scopes", "", "comma-separated scopes, e.g. mcp:read,data:write or *")
	expires := c.fs.String("expires", apikey.Expires90d, "30d, 60d, 90d, never, or a date (2027-01-31)")
	description := c.fs.String("description", "", "notes about the key")
	allowlist := c.fs.String("allowlist", "", "comma-separated addresses or CIDR ranges the key works from (default: any)")
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 0 || *name == "" || *scopes == "" {
		return errors.New("usage: dashboard keys create --name NAME --scopes S1,S2 [--expires 30d|60d|90d|never|DATE] --server URL (token: BLNK_TOKEN)")
	}
	choice, date := *expires, ""
	if _, err := time.Parse(apikey.DateLayout, *expires); err == nil {
		choice, date = apikey.ExpiresDate, *expires
	}
	at, err := apikey.Expiry(choice, date, time.Now())
	if err != nil {
		return fmt.Errorf("--expires %q: %v", *expires, err)
	}
	a, err := c.client()
	if err != nil {
		return err
	}
	body := map[string]any{"name": *name, "scopes": splitList(*scopes), "description": *description, "allowlist": splitList(*allowlist), "expires_at": nil}
	if !at.IsZero() {
		body["expires_at"] = at
	}
	var k apiv1.CreatedKey
	if err := a.call(ctx, http.MethodPost, "/api/v1/keys", body, &k); err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.Secret)
	exp := "never expires"
	if k.ExpiresAt != nil {
		exp = "expires at " + k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "created %s (%s...) %q in workspace %d with scopes %s; it %s\n", k.ID, k.Prefix, k.Name, k.WorkspaceID, strings.Join(k.Scopes, " "), exp)
	fmt.Fprintln(stderr, "the new key above is shown once: store it now")
	return nil
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// remoteList is keys list --server: every key the filters find (all
// pages), one a line.
func remoteList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newRemoteCommand("keys list", stderr)
	// Each filter is the API's query parameter of the same name.
	filters := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"q", "search by name, prefix or id"},
		{"status", "active, expiring, rolled, expired or revoked"},
		{"scope", "keys that allow this scope"},
		{"sort", "created, name, expires or last_used, with - for descending"},
	} {
		filters[f.name] = c.fs.String(f.name, "", f.usage)
	}
	if err := parseArgs(c.fs, args); err != nil {
		return err
	}
	if c.fs.NArg() != 0 {
		return errors.New("usage: dashboard keys list [--q S] [--status S] [--scope S] [--sort S] --server URL (token: BLNK_TOKEN)")
	}
	a, err := c.client()
	if err != nil {
		return err
	}
	v := url.Values{"limit": {"200"}}
	for k, p := range filters {
		if *p != "" {
			v.Set(k, *p)
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tSTATUS\tSCOPES\tEXPIRES\tLAST USED")
	n := 0
	for {
		var page apiv1.Page[apiv1.Key]
		if err := a.call(ctx, http.MethodGet, "/api/v1/keys?"+v.Encode(), nil, &page); err != nil {
			return err
		}
		for _, k := range page.Data {
			n++
			fmt.Fprintf(tw, "%s\t%s...\t%q\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, k.Status, strings.Join(k.Scopes, " "), when(k.ExpiresAt, "never"), when(k.LastUsedAt, "never"))
		}
		if !page.HasMore || page.NextCursor == nil {
			break
		}
		v.Set("cursor", *page.NextCursor)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d %s\n", n, plural(n, "key", "keys"))
	return nil
}

// when is t in RFC 3339 (UTC), or none for nil.
func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// timeOr is t in RFC 3339 (UTC), or none for the zero time.
func timeOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// parseArgs parses args with fs, flags before or after the arguments
// ("keys roll blnk_fdb796a5 --overlap 24h", as the README writes it): Go's
// flag package stops at the first argument.
func parseArgs(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
