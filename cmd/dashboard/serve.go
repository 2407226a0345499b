package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/delivery"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/mail"
	"github.com/blnk-cloud/apikeys/internal/passkeys"
	"github.com/blnk-cloud/apikeys/internal/throttle"
	"github.com/blnk-cloud/apikeys/internal/webhook"
	"github.com/blnk-cloud/apikeys/web"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	listen := fs.String("listen", env("BLNK_LISTEN", "127.0.0.1:8080"), "address to listen on; port 0 picks a free one (env BLNK_LISTEN)")
	dbPath := dbFlag(fs)
	secret := fs.String("session-secret", env("BLNK_SESSION_SECRET", ""), "secret of at least 32 characters that signs cookies; prefer the env var; empty: generate one and keep it in the database (env BLNK_SESSION_SECRET)")
	logLevel := fs.String("log-level", env("BLNK_LOG_LEVEL", "info"), "debug, info, warn or error (env BLNK_LOG_LEVEL)")
	logFormat := fs.String("log-format", env("BLNK_LOG_FORMAT", "text"), "text or json (env BLNK_LOG_FORMAT)")
	proxiesText := fs.String("trusted-proxies", env("BLNK_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of the reverse proxies in front of this server: from them X-Forwarded-For names the client (the right-most address not listed) and X-Forwarded-Proto says HTTPS; none: both ignored (env BLNK_TRUSTED_PROXIES)")
	oldTrustProxy := env("BLNK_TRUST_PROXY", "") // removed; refused below
	fs.BoolFunc("trust-proxy", "removed: use --trusted-proxies", func(v string) error {
		oldTrustProxy = v
		return nil
	})
	publicURL := publicURLFlag(fs)
	smtpURL := fs.String("smtp-url", env("BLNK_SMTP_URL", ""), "SMTP server that sends invitations and \"forgot password\" links: smtp://user@host:587 (STARTTLS) or smtps://user@host:465; the password comes from BLNK_SMTP_PASSWORD, never a flag; empty: no email, links are shown to copy (env BLNK_SMTP_URL)")
	smtpFrom := fs.String("smtp-from", env("BLNK_SMTP_FROM", ""), "sender address of the emails, e.g. \"Blnk Cloud <keys@example.com>\"; required with --smtp-url (env BLNK_SMTP_FROM)")
	origins := fs.String("trusted-origins", env("BLNK_TRUSTED_ORIGINS", ""), "comma-separated extra origins allowed to post forms, e.g. https://dash.example.com (env BLNK_TRUSTED_ORIGINS)")
	var idle, lifetime, flush, poll, failEvery, revokeWait, maxStale, hookRetry, hookPoll, sweep, tokenEvery time.Duration
	var err error
	durations := []struct {
		p         *time.Duration
		name, env string
		def       time.Duration
		help      string
	}{
		{&idle, "session-idle", "BLNK_SESSION_IDLE", 2 * time.Hour, "sign out sessions idle this long"},
		{&lifetime, "session-lifetime", "BLNK_SESSION_LIFETIME", 24 * time.Hour, "sign out sessions this old"},
		{&flush, "usage-flush", "BLNK_USAGE_FLUSH", 2 * time.Second, "how often usage (last used, calls per hour) is written; a key called without a pause, every 5th time"},
		{&poll, "key-poll", "BLNK_KEY_POLL", time.Second, "how often key changes of other processes are read, as a safety net"},
		{&failEvery, "auth-fail-every", "BLNK_AUTH_FAIL_EVERY", 500 * time.Millisecond, "after the burst, one more failed API authentication per client address per this long"},
		{&revokeWait, "revoke-wait", "BLNK_REVOKE_WAIT", keys.DefaultRevokeWait, "how long a revoke waits for every live server to apply it or stop trusting its memory before answering (more than --max-staleness)"},
		{&maxStale, "max-staleness", "BLNK_MAX_STALENESS", keys.DefaultMaxStaleness, "the lease: a server answers API calls from memory for this long after its view of the keys was last confirmed with the database, then fails closed (503)"},
		{&hookRetry, "webhook-retry", "BLNK_WEBHOOK_RETRY", 10 * time.Second, "first wait after a failed webhook delivery; doubles each time, retries for 24h"},
		{&hookPoll, "webhook-poll", "BLNK_WEBHOOK_POLL", time.Second, "how often the webhook queue is read for deliveries other servers queued"},
		{&tokenEvery, "token-rate-every", "BLNK_TOKEN_RATE_EVERY", 100 * time.Millisecond, "after --token-rate-burst, one more management API request per token per this long, on each server"},
		{&sweep, "sweep-every", "BLNK_SWEEP_EVERY", 30 * time.Second, "how often keys that expired (key.expired) or expire within 7 days or 1 day (key.expiring) are looked for"},
	}
	for _, d := range durations {
		def, err := envParse(d.env, d.def, time.ParseDuration)
		if err != nil {
			return err
		}
		fs.DurationVar(d.p, d.name, def, d.help+" (env "+d.env+")")
	}
	burst, err := envParse("BLNK_AUTH_FAIL_BURST", 20, strconv.Atoi)
	if err != nil {
		return err
	}
	failBurst := fs.Int("auth-fail-burst", burst, "failed API authentications a client address may make in a row (env BLNK_AUTH_FAIL_BURST)")
	tburst, err := envParse("BLNK_TOKEN_RATE_BURST", 100, strconv.Atoi)
	if err != nil {
		return err
	}
	tokenBurst := fs.Int("token-rate-burst", tburst, "management API requests one token may make in a row on a server, before 429 (env BLNK_TOKEN_RATE_BURST)")
	snapshot := fs.String("key-snapshot", env("BLNK_KEY_SNAPSHOT", ""), "a file where the keys held in memory are saved (at shutdown, and after a start that read every key), so that the next start reads only the keys changed since; one file per server, never shared; empty: none (env BLNK_KEY_SNAPSHOT)")
	counts := fs.Bool("usage-counts", env("BLNK_USAGE_COUNTS", "true") != "false", "count calls per key per hour; false only to measure what counting costs (env BLNK_USAGE_COUNTS)")
	allowPrivate := fs.Bool("webhook-allow-private", env("BLNK_WEBHOOK_ALLOW_PRIVATE", "") == "true", "let webhooks reach loopback, private, link-local and other non-public addresses, for receivers on your own network; this server's own address stays refused (env BLNK_WEBHOOK_ALLOW_PRIVATE=true)")
	retentionDef, err := envParse("BLNK_AUDIT_RETENTION", time.Duration(0), parseDays)
	if err != nil {
		return err
	}
	var retention time.Duration
	fs.Func("audit-retention", "delete audit events older than this, e.g. 365d or 2160h; 0 keeps them forever (env BLNK_AUDIT_RETENTION) (default 0)", func(s string) error {
		d, err := parseDays(s)
		if err != nil || d < 0 {
			return fmt.Errorf("use a duration such as 365d or 2160h, or 0 to keep events forever")
		}
		retention = d
		return nil
	})
	retention = retentionDef
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if oldTrustProxy != "" && oldTrustProxy != "false" {
		return errors.New("--trust-proxy (BLNK_TRUST_PROXY) was removed: it trusted every private address as a proxy, so clients could choose their address. " +
			"Name your proxies instead: --trusted-proxies 127.0.0.1 (env BLNK_TRUSTED_PROXIES), addresses or CIDRs separated by commas")
	}
	proxies, err := parseTrustedProxies(*proxiesText)
	if err != nil {
		return err
	}
	public, err := parsePublicURL(*publicURL)
	if err != nil {
		return err
	}
	pk, err := publicPasskeys(public)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	var outbox *mail.Outbox
	if *smtpURL != "" {
		if public == "" {
			return errors.New("--smtp-url needs --public-url (env BLNK_PUBLIC_URL): emailed links start with it, never with the address a request names")
		}
		smtp, err := mail.NewSMTP(*smtpURL, os.Getenv("BLNK_SMTP_PASSWORD"), *smtpFrom)
		if err != nil {
			return fmt.Errorf("--smtp-url: %w", err)
		}
		outbox = mail.NewOutbox(smtp, mail.DefaultTimeout, log)
		log.Info("email on", "smtp", smtp.String())
		defer func() {
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), mail.DefaultTimeout)
			outbox.Close(stop)
			cancel()
		}()
	} else if os.Getenv("BLNK_SMTP_PASSWORD") != "" {
		return errors.New("BLNK_SMTP_PASSWORD is set but --smtp-url (env BLNK_SMTP_URL) is not")
	}
	// The lease must outlast a poll that comes late, and a revoke be able
	// to wait for a server's lease to run out (internal/keys).
	if maxStale < 2*poll {
		return fmt.Errorf("--max-staleness (%v) must be at least twice --key-poll (%v)", maxStale, poll)
	}
	if revokeWait < maxStale+keys.LeaseMargin+100*time.Millisecond {
		return fmt.Errorf("--revoke-wait (%v) must be longer than --max-staleness (%v) by at least %v", revokeWait, maxStale, keys.LeaseMargin+100*time.Millisecond)
	}

	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()

	key, err := sessionSecret(ctx, store, *secret)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if pk.RPID == "" {
		pk = localPasskeys(ln.Addr())
	}
	if pk.RPID == "" {
		log.Info("passkeys are off: set --public-url (BLNK_PUBLIC_URL) to the https address people open the dashboard at")
	} else {
		log.Info("passkeys on", "rp_id", pk.RPID, "origin", pk.Origins[0])
	}
	setupToken, err := firstRunToken(ctx, store, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	serverID := newServerID()
	// Loading makes garbage of every row read while the index grows to
	// its full size; collecting often meanwhile keeps the peak near the
	// index's size (a million keys: 410 MB rather than 520 MB), and
	// costs little (see boundedGCPercent).
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		debug.SetGCPercent(gcLoadPercent)
	}
	auth, err := keyauth.New(ctx, keyauth.Config{
		FlushEvery:         flush,
		PollEvery:          poll,
		MaxStaleness:       maxStale,
		Failures:           throttle.Config{Burst: *failBurst, Every: failEvery},
		ServerID:           serverID,
		Address:            url,
		DisableUsageCounts: !*counts,
		SnapshotPath:       *snapshot,
	}, store, log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("load keys: %w", err)
	}
	defer auth.Close()
	if retention > 0 && retention < time.Hour {
		return fmt.Errorf("--audit-retention (%v) must be at least an hour, or 0 to keep events forever", retention)
	}
	keyring := keys.New(keys.Config{RevokeWait: revokeWait, MaxStaleness: maxStale, AuditRetention: retention, SweepEvery: sweep}, store, auth, log)
	guard, err := webhook.NewGuard(ln.Addr().String(), *allowPrivate)
	if err != nil {
		ln.Close()
		return err
	}
	sender := delivery.New(delivery.Config{ServerID: serverID, RetryBase: hookRetry, PollEvery: hookPoll, Guard: guard}, store, log)

	// The public URL is this server's own origin, whatever Host a proxy
	// passes on.
	trusted := slices.Clone(pk.Origins)
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			trusted = append(trusted, o)
		}
	}
	webCfg := web.Config{
		SessionSecret:   key,
		SessionIdle:     idle,
		SessionLifetime: lifetime,
		TrustedProxies:  proxies,
		TrustedOrigins:  trusted,
		SharedLogins:    store, // failed sign-ins count across every server on this database
		Webhooks:        web.WebhookConfig{Guard: guard},
		SetupToken:      setupToken,
		PublicURL:       public,
		Passkeys:        pk,
		TokenLimit:      throttle.Config{Burst: *tokenBurst, Every: tokenEvery},
	}
	if outbox != nil {
		webCfg.Mail = outbox // never a nil *Outbox in the interface
	}
	srv, err := web.New(webCfg, store, auth, keyring, log)
	if err != nil {
		ln.Close()
		return err
	}

	// Loading the keys left garbage behind: give it back to the system
	// before serving, so the resident size reflects what is kept.
	debug.FreeOSMemory()
	gcPercent := 0 // GOGC set: left alone
	if gogc == "" {
		gcPercent = boundedGCPercent(liveHeap())
		debug.SetGCPercent(gcPercent)
	}

	// Said whatever the log level: scripts (and the tests) read the URL
	// from this line when they ask for port 0.
	startup, _ := newLogger(stderr, "info", *logFormat)
	keysFrom, changedSince := auth.LoadedFrom()
	startup.Info("listening", "url", url, "db", store.Describe(), "keys", auth.Len(), "keys_from", keysFrom, "changed_since_snapshot", changedSince, "server", serverID, "gc_percent", gcPercent)
	if setupToken != "" {
		// The one secret this server logs on purpose: worth nothing once
		// setup is done, and the only way in until then.
		startup.Warn("first-run setup: open this link to create the workspace and its Owner (it works until setup is done; use this server's address if the one shown is not reachable)",
			"url", url+"/setup?token="+setupToken)
	}

	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { auth.Run(bg) })
	wg.Go(func() { srv.CleanSessions(bg, 10*time.Minute) })
	wg.Go(func() { sender.Run(bg) })
	wg.Go(func() { keyring.Run(bg) })

	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = httpSrv.Shutdown(shutdown)
		cancel()
	}
	stopBG()
	wg.Wait() // the last flush of last-used times
	// Leave the servers' table: no revoke should wait for this one now.
	gone, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	if err := store.RemoveServer(gone, serverID, time.Now().Add(-24*time.Hour)); err != nil {
		log.Warn("remove this server's heartbeat", "err", err)
	}
	cancel()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// newServerID names this process in the servers' heartbeats.
func newServerID() string {
	var b [6]byte
	rand.Read(b[:])
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// sessionSecret returns the configured secret, or the one generated and
// stored in the database on first start, so restarts keep sessions.
func sessionSecret(ctx context.Context, store *db.DB, configured string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 32 {
			return nil, errors.New("session secret: use at least 32 characters (openssl rand -hex 32)")
		}
		return []byte(configured), nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	return store.EnsureSetting(ctx, "session_secret", fresh)
}

// gcHeadroom is the garbage a large heap may gather between two
// collections once serving, and gcLoadPercent the GC percentage while the
// keys load; see boundedGCPercent.
const (
	gcHeadroom    = 64 << 20
	gcLoadPercent = 25
)

// boundedGCPercent returns the GC percentage (GOGC) that lets a heap of
// live bytes grow by gcHeadroom before the next collection, or by the
// default 100% when that is less, and by no less than 10%. With the
// default alone, the heap grows by as much as it holds, and most of what
// it holds is the key index: a million keys took 350 MB, and 700 MB under
// load. The index holds no pointers, so a collection marks it for almost
// nothing, and collecting more often costs little CPU.
func boundedGCPercent(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(max(10, min(100, gcHeadroom*100/live)))
}

// liveHeap returns the bytes the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// parseTrustedProxies reads --trusted-proxies: addresses (for themselves)
// or CIDRs, separated by commas, as an IP allowlist is written. A network
// of every address is refused: it would let any client name its address.
func parseTrustedProxies(text string) ([]netip.Prefix, error) {
	list, err := apikey.ParseAllowlist(text)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	for _, p := range list {
		if p.Bits() == 0 {
			return nil, fmt.Errorf("--trusted-proxies: %s is every address, so any client could name its own address; list the addresses of your proxies", p)
		}
	}
	return list, nil
}

// firstRunToken returns the token of the one-time setup link when the
// server listens on anything but loopback and nobody has set it up yet:
// then /setup is open to whoever has the link (printed in the log), not
// to whoever reaches the port first. "" otherwise: on 127.0.0.1 only
// this machine can reach it. 192 random bits, base64url.
func firstRunToken(ctx context.Context, store *db.DB, addr net.Addr) (string, error) {
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil && ap.Addr().Unmap().IsLoopback() {
		return "", nil
	}
	done, err := store.HasAdmin(ctx)
	if err != nil || done {
		return "", err
	}
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// publicURLFlag adds --public-url, which emailed and printed links start
// with.
func publicURLFlag(fs *flag.FlagSet) *string {
	return fs.String("public-url", env("BLNK_PUBLIC_URL", ""), "the dashboard's address as people reach it, e.g. https://keys.example.com: emailed and printed links start with it; required with --smtp-url (env BLNK_PUBLIC_URL)")
}

// parsePublicURL checks --public-url: an http or https origin, with no
// path, query or credentials; "" stays "".
func parsePublicURL(raw string) (string, error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--public-url %q: use the dashboard's origin, like https://keys.example.com (no path)", raw)
	}
	return raw, nil
}

// publicPasskeys returns who passkeys are made for: the --public-url's
// domain, refused with a sentence that says why when browsers would
// refuse it; none without one.
func publicPasskeys(publicURL string) (web.PasskeyConfig, error) {
	if publicURL == "" {
		return web.PasskeyConfig{}, nil
	}
	rp, origin, err := passkeys.ParsePublicURL(publicURL)
	if err != nil {
		return web.PasskeyConfig{}, fmt.Errorf("--public-url (BLNK_PUBLIC_URL): %w", err)
	}
	return web.PasskeyConfig{RPID: rp, Origins: []string{origin}}, nil
}

// localPasskeys is the relying party of a server without --public-url:
// http://localhost:PORT when it listens on loopback (browsers treat
// localhost as a secure context, and refuse passkeys on 127.0.0.1),
// else none (passkeys off).
func localPasskeys(addr net.Addr) web.PasskeyConfig {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return web.PasskeyConfig{}
	}
	return web.PasskeyConfig{RPID: "localhost", Origins: []string{"http://localhost:" + strconv.Itoa(int(ap.Port()))}}
}
