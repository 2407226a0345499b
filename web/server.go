// Package web serves the dashboard: the pages admins use in a browser and
// the JSON API that API clients and gateways call with a key.
package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/accounts"
	"github.com/blnk-cloud/apikeys/internal/endpoints"
	"github.com/blnk-cloud/apikeys/internal/idempotency"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/mail"
	"github.com/blnk-cloud/apikeys/internal/members"
	"github.com/blnk-cloud/apikeys/internal/passkeys"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/throttle"
	"github.com/blnk-cloud/apikeys/internal/tokens"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Config is how a Server behaves. The zero value of each field but
// SessionSecret has a sensible default.
type Config struct {
	// SessionSecret signs and encrypts cookies; at least 32 bytes.
	SessionSecret []byte
	// SessionIdle signs out a session unused for this long (default 2h).
	SessionIdle time.Duration
	// SessionLifetime signs out any session this old (default 24h).
	SessionLifetime time.Duration
	// TrustedProxies are the addresses of the reverse proxies in front
	// of the server: from them, and only them, X-Forwarded-For names the
	// client (the right-most address not in this list) and
	// X-Forwarded-Proto says HTTPS. None: both headers are ignored.
	TrustedProxies []netip.Prefix
	// TrustedOrigins are origins besides the server's own allowed to send
	// state-changing requests, e.g. "https://dashboard.example.com" when a
	// proxy rewrites the Host header.
	TrustedOrigins []string
	// Passwords hashes new passwords (default password.DefaultHasher).
	Passwords password.Hasher
	// LoginLimit is the allowance of failed sign-ins of the default
	// throttles: per client address and email, and per device cookie, as
	// given (default 5 in a row, then one per 20 s); per client address
	// four times the burst at four times the rate (20, then one per 5 s);
	// per account, for browsers without its device cookie, five times
	// the burst at five times the rate (25, then one per 4 s).
	LoginLimit throttle.Config
	// LeakLimit bounds the leak reports one client address may send
	// (default: 10 in a row, then one every 6 seconds).
	LeakLimit throttle.Config
	// TokenLimit bounds the management API requests of one token, on
	// each server (default: 100 in a row, then 10 a second).
	TokenLimit throttle.Config
	// Webhooks is how webhooks are checked and sent.
	Webhooks WebhookConfig
	// SharedLogins, when set, keeps the sign-in throttles' counts there
	// (the database) instead of in memory, so that they hold across
	// several servers (throttle.Shared).
	SharedLogins throttle.Buckets
	// LoginByIP, LoginByIPEmail, LoginByEmail and LoginByDevice, when
	// set, replace the throttles of sign-in attempts made from
	// LoginLimit: per client address, per address and email, per account
	// (email) and per device cookie (see Server.signInCharges).
	LoginByIP, LoginByIPEmail, LoginByEmail, LoginByDevice LoginThrottle
	// TwoFactorByUser and TwoFactorBySession, when set, replace the
	// throttles of second-factor codes (and sudo checks) made from
	// LoginLimit: per account, and per pending sign-in (5 wrong codes,
	// then one per 20 s; shared through SharedLogins).
	TwoFactorByUser, TwoFactorBySession LoginThrottle
	// PasswordChecks bounds the password hashes computed at once
	// (default runtime.GOMAXPROCS(0)): each takes a core and, with the
	// default argon2id cost, 19 MiB, so that a storm of sign-ins queues
	// instead of exhausting memory.
	PasswordChecks int
	// PasswordWait is how long a sign-in waits for its turn to hash
	// before it is answered 503 with Retry-After (default 2s).
	PasswordWait time.Duration
	// ReadyTimeout bounds the write /readyz makes, at most once a second
	// (default 2s): a database that takes longer is not ready.
	ReadyTimeout time.Duration
	// SetupToken, when set, is the secret of the one-time first-run setup
	// link (/setup?token=...): until an admin exists, /setup shows its
	// form only to whoever has it, not to whoever reaches the port first.
	// cmd/dashboard sets it, and prints the link, when the server listens
	// on anything but loopback. The server keeps only its hash.
	SetupToken string
	// Mail sends emails (invitations, password reset links) in the
	// background; nil: no SMTP server is configured, links are shown to
	// copy and "Forgot password?" says to ask an Owner or Admin.
	Mail Mailer
	// PublicURL is the dashboard's address as people reach it, e.g.
	// "https://keys.example.com": emailed and printed links start with
	// it, never with a request's Host header (which whoever asks for a
	// "forgot password" email would choose). Required with Mail.
	PublicURL string
	// ForgotLimit bounds the "forgot password" emails per client address
	// and per email (default: 5 in a row, then one every 2 minutes),
	// across every server when SharedLogins is set.
	ForgotLimit throttle.Config
	// Passkeys is who passkeys are made for (passkeys.ParsePublicURL
	// makes it from --public-url); an empty RPID turns passkeys off.
	Passkeys PasskeyConfig
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Mailer sends a message in the background (mail.Outbox): Post returns
// at once, and failures are logged there.
type Mailer interface {
	Post(m mail.Message, requestID string)
}

// PasskeyConfig is the relying party of passkeys: its id (the public
// URL's host name) and the origins browsers may answer from.
type PasskeyConfig struct {
	RPID    string
	Origins []string
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 2 * time.Hour
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 24 * time.Hour
	}
	if c.Passwords == (password.Hasher{}) {
		c.Passwords = password.DefaultHasher
	}
	if c.LoginLimit == (throttle.Config{}) {
		// Five failures in a row, then one more try every 20 seconds.
		c.LoginLimit = throttle.Config{Burst: 5, Every: 20 * time.Second}
	}
	newThrottle := c.newThrottle
	// Each allowance is the LoginLimit's burst and rate times the same
	// factor, so that a bucket of any of them refills in Burst × Every:
	// the shared throttles keep their buckets in one table, and each
	// prunes the buckets untouched for that long.
	scaled := func(k int) throttle.Config {
		return throttle.Config{Burst: c.LoginLimit.Burst * k, Every: c.LoginLimit.Every / time.Duration(k)}
	}
	if c.LoginByIP == nil {
		// Enough for an office behind one address, not for spraying a
		// password across many emails.
		c.LoginByIP = newThrottle(scaled(4))
	}
	if c.LoginByIPEmail == nil {
		// What one address may guess at one account.
		c.LoginByIPEmail = newThrottle(c.LoginLimit)
	}
	if c.LoginByEmail == nil {
		// The account's own limit, for browsers that do not carry its
		// device cookie, holds against guesses spread over many
		// addresses; it must not be one address's to fill, or anyone
		// knowing the email could lock the owner out. One address gets
		// at most LoginLimit at an account (LoginByIPEmail): Burst in a
		// row, then one per Every. The account's bucket holds five times
		// that burst and refills five times as fast, so one address at
		// full speed never takes more than a fifth of it, however long
		// it keeps going, and emptying it takes five addresses or more
		// attacking together. Even then only new browsers are locked
		// out: the known browser goes by its device cookie
		// (LoginByDevice) and never meets this limit.
		c.LoginByEmail = newThrottle(scaled(5))
	}
	if c.LoginByDevice == nil {
		// A known browser's own mistakes lock only that browser.
		c.LoginByDevice = newThrottle(c.LoginLimit)
	}
	if c.TwoFactorByUser == nil {
		c.TwoFactorByUser = newThrottle(c.LoginLimit)
	}
	if c.TwoFactorBySession == nil {
		c.TwoFactorBySession = newThrottle(c.LoginLimit)
	}
	if c.PasswordChecks <= 0 {
		c.PasswordChecks = runtime.GOMAXPROCS(0)
	}
	if c.PasswordWait <= 0 {
		c.PasswordWait = 2 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 2 * time.Second
	}
	if c.ForgotLimit == (throttle.Config{}) {
		c.ForgotLimit = throttle.Config{Burst: 5, Every: 2 * time.Minute}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.TokenLimit == (throttle.Config{}) {
		c.TokenLimit = throttle.Config{Burst: 100, Every: 100 * time.Millisecond}
	}
	if c.LeakLimit == (throttle.Config{}) {
		c.LeakLimit = throttle.Config{Burst: 10, Every: 6 * time.Second}
	}
}

// newThrottle returns a throttle of cfg: shared by every server when
// SharedLogins is set, else in memory.
func (c *Config) newThrottle(cfg throttle.Config) LoginThrottle {
	if c.SharedLogins != nil {
		return throttle.NewShared(cfg, c.SharedLogins, c.Now)
	}
	return throttle.New(cfg, c.Now)
}

// LoginThrottle limits sign-in attempts per key: a client address
// ("ip:" and the address), an email ("email:" and the address), both, or
// a device cookie ("device:" and its nonce). The
// server takes an attempt before it checks a password, and gives it back
// when the password was right or could not be checked: attempts that
// arrive together cannot all pass a check made before any of them was
// counted. *throttle.Limiter keeps the counts in memory; one kept in the
// database holds across several servers.
type LoginThrottle interface {
	// Take charges one attempt to key, in one step with checking that
	// key has one left. It returns zero if it did; else how long key must
	// wait, having charged nothing.
	Take(ctx context.Context, key string) (time.Duration, error)
	// Refund gives back one attempt that Take charged.
	Refund(ctx context.Context, key string) error
	// Reset forgets key's failures, after a correct password.
	Reset(ctx context.Context, key string) error
}

var _ LoginThrottle = (*throttle.Limiter)(nil)

// WebhookConfig is what the webhook pages need to know.
type WebhookConfig struct {
	// Guard refuses endpoint URLs that reach this server or, unless it
	// allows them, private addresses; nil: public addresses only.
	Guard *webhook.Guard
}

// Server is the dashboard's HTTP server.
type Server struct {
	cfg    Config
	db     *db.DB
	auth   *keyauth.Authenticator // checks API keys
	counts *listCounts            // the keys list's counts per status
	keys   *keys.Service          // creates and revokes them
	// endpoints changes webhook endpoints.
	endpoints *endpoints.Service
	// accounts sets up, signs in and out, and times out sessions.
	accounts *accounts.Service
	// members invites, accepts, changes roles and removes people.
	members *members.Service
	// factors changes second factors, the Owner's requirement of them,
	// and sudo mode.
	factors *twofactor.Service
	// idempotency keeps the answers of POSTs sent with an
	// Idempotency-Key (the Idempotency middleware).
	idempotency *idempotency.Service
	// tokens creates, revokes and checks management tokens.
	tokens *tokens.Service
	// tokenLimit bounds each management token's requests.
	tokenLimit *throttle.Limiter
	// passkeys adds, removes and checks passkeys; nil: passkeys are off
	// (no public URL).
	passkeys *passkeys.Service
	log      *slog.Logger
	cookies  *sessions.CookieStore
	// dummyHash is verified against when an email is unknown. Made on the
	// first such sign-in, not at start: hashing takes 19 MiB for a moment.
	dummyHash func() string
	setupDone atomic.Bool
	// setupHash is the SHA-256 of Config.SetupToken; nil: /setup needs
	// no token.
	setupHash *[sha256.Size]byte
	// deviceKey signs device cookies (device.go).
	deviceKey []byte
	// forgotByIP and forgotByEmail bound the "forgot password" emails.
	forgotByIP, forgotByEmail LoginThrottle
	// leakLimit bounds the leak reports per client address.
	leakLimit *throttle.Limiter
	// passkeyBegins bounds the passkey sign-ins an address may begin:
	// each keeps a row for 5 minutes, asked by anyone without a session.
	passkeyBegins *throttle.Limiter
	// hashSlots holds a token per password hash being computed: at most
	// cfg.PasswordChecks at once.
	hashSlots chan struct{}
	// ready probes whether the database takes a write, for /readyz.
	ready *readiness
	// verifyPassword is password.Verify; tests count the calls.
	verifyPassword func(hash, password string) bool
	echo           *echo.Echo
}

// New returns a Server on store. auth authenticates API calls; keyring
// creates and revokes keys (and keeps auth up to date).
func New(cfg Config, store *db.DB, auth *keyauth.Authenticator, keyring *keys.Service, log *slog.Logger) (*Server, error) {
	if len(cfg.SessionSecret) < 32 {
		return nil, errors.New("web: session secret must be at least 32 bytes")
	}
	if cfg.Mail != nil && cfg.PublicURL == "" {
		return nil, errors.New("web: sending email needs the public URL, which emailed links start with")
	}
	cfg.setDefaults()
	s := &Server{
		cfg:            cfg,
		db:             store,
		auth:           auth,
		counts:         newListCounts(store),
		keys:           keyring,
		endpoints:      endpoints.New(store, cfg.Now, log),
		accounts:       accounts.New(accounts.Config{Idle: cfg.SessionIdle, Lifetime: cfg.SessionLifetime, Now: cfg.Now}, store, log),
		members:        members.New(store, keyring, cfg.Now, log),
		idempotency:    idempotency.New(store, cfg.Now, log),
		tokens:         tokens.New(store, cfg.Now, log),
		tokenLimit:     throttle.New(cfg.TokenLimit, cfg.Now),
		log:            log,
		cookies:        newCookieStore(cfg.SessionSecret, cfg.SessionLifetime),
		deviceKey:      deriveKey(cfg.SessionSecret, "blnk device cookie: hmac"),
		dummyHash:      sync.OnceValue(cfg.Passwords.DummyHash),
		hashSlots:      make(chan struct{}, cfg.PasswordChecks),
		verifyPassword: password.Verify,
		leakLimit:      throttle.New(cfg.LeakLimit, cfg.Now),
		passkeyBegins:  throttle.New(throttle.Config{Burst: 30, Every: 2 * time.Second}, cfg.Now),
	}
	if cfg.Passkeys.RPID != "" {
		pk, err := passkeys.New(passkeys.Config{RPID: cfg.Passkeys.RPID, Origins: cfg.Passkeys.Origins, Now: cfg.Now}, store, log)
		if err != nil {
			return nil, err
		}
		s.passkeys = pk
	}
	factors, err := twofactor.New(store, cfg.SessionSecret, cfg.Now, log)
	if err != nil {
		return nil, err
	}
	s.factors = factors
	// Shared like the sign-in throttles, or an inbox could be flooded
	// five times per server; pruneThrottles keeps their slower buckets.
	s.forgotByIP, s.forgotByEmail = cfg.newThrottle(cfg.ForgotLimit), cfg.newThrottle(cfg.ForgotLimit)
	if cfg.SetupToken != "" {
		h := sha256.Sum256([]byte(cfg.SetupToken))
		s.setupHash, s.cfg.SetupToken = &h, ""
	}
	s.ready = &readiness{write: store.TouchReadiness, now: cfg.Now, timeout: cfg.ReadyTimeout, log: log}
	e, err := s.newEcho()
	if err != nil {
		return nil, err
	}
	s.echo = e
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// CleanSessions deletes expired sessions from the database, the sign-in
// throttle's refilled buckets, and the answers kept for Idempotency-Keys
// past their 24 hours, every interval until ctx ends.
func (s *Server) CleanSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.clean(ctx)
		}
	}
}

// clean is one round of CleanSessions.
func (s *Server) clean(ctx context.Context) {
	n, err := s.accounts.DeleteStale(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("clean sessions", "err", err)
	} else if n > 0 {
		s.log.Debug("cleaned sessions", "deleted", n)
	}
	if err := s.pruneThrottles(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("prune throttles", "err", err)
	}
	if _, err := s.idempotency.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("sweep idempotency keys", "err", err)
	}
}

// pruneThrottles deletes the shared throttles' refilled buckets. They
// keep them in one table, whose rows do not say whose they are: a
// pruning at the sign-in throttles' pace (full after 100 s) would
// delete a "forgot password" bucket (full after 10 minutes) while it
// still counts. So the table is pruned once, by the throttle slowest to
// refill.
func (s *Server) pruneThrottles(ctx context.Context) error {
	type pruner interface {
		Prune(context.Context) error
		FullAfter() time.Duration
	}
	var slowest pruner
	for _, th := range []LoginThrottle{s.cfg.LoginByIP, s.cfg.LoginByIPEmail, s.cfg.LoginByEmail, s.cfg.LoginByDevice,
		s.cfg.TwoFactorByUser, s.cfg.TwoFactorBySession, s.forgotByIP, s.forgotByEmail} {
		if p, ok := th.(pruner); ok && (slowest == nil || p.FullAfter() > slowest.FullAfter()) {
			slowest = p
		}
	}
	if slowest == nil {
		return nil
	}
	return slowest.Prune(ctx)
}

func (s *Server) newEcho() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	cop := http.NewCrossOriginProtection()
	for _, o := range s.cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	e.Use(s.requestID, compressPages(), s.logRequests, s.recoverPanics, s.securityHeaders, crossOrigin(cop), s.validText, s.withTheme)
	s.routes(e)
	return e, nil
}
