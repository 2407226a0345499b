// Package web serves the dashboard: the pages admins use in a browser and
// the JSON API that API clients and gateways call with a key.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/account"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/throttle"
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
	// TrustProxy trusts X-Forwarded-For and X-Forwarded-Proto from a
	// reverse proxy on a loopback or private address.
	TrustProxy bool
	// TrustedOrigins are origins besides the server's own allowed to send
	// state-changing requests, e.g. "https://dashboard.example.com" when a
	// proxy rewrites the Host header.
	TrustedOrigins []string
	// Passwords hashes new passwords (default account.DefaultHasher).
	Passwords account.Hasher
	// LoginLimit is the allowance of failed sign-ins of the default,
	// in-memory throttles: per email as given (default 5 in a row, then
	// one per 20 s), per client address four times the burst at four
	// times the rate (20, then one per 5 s).
	LoginLimit throttle.Config
	// LeakLimit bounds the leak reports one client address may send
	// (default: 10 in a row, then one every 6 seconds).
	LeakLimit throttle.Config
	// Webhooks is how webhooks are checked and sent.
	Webhooks WebhookConfig
	// SharedLogins, when set, keeps the sign-in throttles' counts there
	// (the database) instead of in memory, so that they hold across
	// several servers (throttle.Shared).
	SharedLogins throttle.Buckets
	// LoginByEmail and LoginByIP, when set, replace the throttles of
	// sign-in attempts made from LoginLimit.
	LoginByEmail, LoginByIP LoginThrottle
	// PasswordChecks bounds the password hashes computed at once
	// (default runtime.GOMAXPROCS(0)): each takes a core and, with the
	// default argon2id cost, 19 MiB, so that a storm of sign-ins queues
	// instead of exhausting memory.
	PasswordChecks int
	// PasswordWait is how long a sign-in waits for its turn to hash
	// before it is answered 503 with Retry-After (default 2s).
	PasswordWait time.Duration
	// ReadyTimeout bounds the write /readyz makes (default 2s): a
	// database that takes longer is not ready.
	ReadyTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
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
	if c.Passwords == (account.Hasher{}) {
		c.Passwords = account.DefaultHasher
	}
	if c.LoginLimit == (throttle.Config{}) {
		// Five failures in a row, then one more try every 20 seconds.
		c.LoginLimit = throttle.Config{Burst: 5, Every: 20 * time.Second}
	}
	newThrottle := func(cfg throttle.Config) LoginThrottle {
		if c.SharedLogins != nil {
			return throttle.NewShared(cfg, c.SharedLogins, c.Now)
		}
		return throttle.New(cfg, c.Now)
	}
	if c.LoginByEmail == nil {
		c.LoginByEmail = newThrottle(c.LoginLimit)
	}
	if c.LoginByIP == nil {
		// Enough for an office behind one address, not for spraying a
		// password across many emails.
		c.LoginByIP = newThrottle(throttle.Config{Burst: c.LoginLimit.Burst * 4, Every: c.LoginLimit.Every / 4})
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
	if c.LeakLimit == (throttle.Config{}) {
		c.LeakLimit = throttle.Config{Burst: 10, Every: 6 * time.Second}
	}
}

// LoginThrottle limits sign-in attempts per key: a client address
// ("ip:" and the address) or an email ("email:" and the address). The
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
	// Guard refuses endpoint URLs that reach this server; nil: none.
	Guard *webhook.Guard
}

// Server is the dashboard's HTTP server.
type Server struct {
	cfg     Config
	db      *db.DB
	auth    *keyauth.Authenticator // checks API keys
	counts  *listCounts            // the keys list's counts per status
	keys    *keys.Service          // creates and revokes them
	log     *slog.Logger
	cookies *sessions.CookieStore
	// dummyHash is verified against when an email is unknown. Made on the
	// first such sign-in, not at start: hashing takes 19 MiB for a moment.
	dummyHash func() string
	setupDone atomic.Bool
	// leakLimit bounds the leak reports per client address.
	leakLimit *throttle.Limiter
	// hashSlots holds a token per password hash being computed: at most
	// cfg.PasswordChecks at once.
	hashSlots chan struct{}
	// verifyPassword is account.Verify; tests count the calls.
	verifyPassword func(hash, password string) bool
	echo           *echo.Echo
}

// New returns a Server on store. auth authenticates API calls; keyring
// creates and revokes keys (and keeps auth up to date).
func New(cfg Config, store *db.DB, auth *keyauth.Authenticator, keyring *keys.Service, log *slog.Logger) (*Server, error) {
	if len(cfg.SessionSecret) < 32 {
		return nil, errors.New("web: session secret must be at least 32 bytes")
	}
	cfg.setDefaults()
	s := &Server{
		cfg:            cfg,
		db:             store,
		auth:           auth,
		counts:         newListCounts(store),
		keys:           keyring,
		log:            log,
		cookies:        newCookieStore(cfg.SessionSecret, cfg.SessionLifetime),
		dummyHash:      sync.OnceValue(cfg.Passwords.DummyHash),
		hashSlots:      make(chan struct{}, cfg.PasswordChecks),
		verifyPassword: account.Verify,
		leakLimit:      throttle.New(cfg.LeakLimit, cfg.Now),
	}
	e, err := s.newEcho()
	if err != nil {
		return nil, err
	}
	s.echo = e
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// CleanSessions deletes expired sessions from the database, and the
// sign-in throttle's refilled buckets, every interval until ctx ends.
func (s *Server) CleanSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.cfg.Now()
			n, err := s.db.DeleteStaleSessions(ctx, now.Add(-s.cfg.SessionIdle), now.Add(-s.cfg.SessionLifetime))
			if err != nil && ctx.Err() == nil {
				s.log.Error("clean sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("cleaned sessions", "deleted", n)
			}
			for _, th := range []LoginThrottle{s.cfg.LoginByEmail, s.cfg.LoginByIP} {
				if p, ok := th.(interface{ Prune(context.Context) error }); ok {
					if err := p.Prune(ctx); err != nil && ctx.Err() == nil {
						s.log.Error("prune sign-in throttle", "err", err)
					}
				}
			}
		}
	}
}

func (s *Server) newEcho() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.cfg.TrustProxy)
	cop := http.NewCrossOriginProtection()
	for _, o := range s.cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	e.Use(s.requestID, s.logRequests, s.recoverPanics, s.securityHeaders, crossOrigin(cop), s.validText, s.withTheme)
	s.routes(e)
	return e, nil
}

// ipExtractor reads the client's address from the connection, or, behind
// a trusted proxy, from X-Forwarded-For as far as trusted hops go.
func ipExtractor(trustProxy bool) echo.IPExtractor {
	if !trustProxy {
		return echo.ExtractIPDirect()
	}
	return echo.ExtractIPFromXFFHeader(echo.TrustLoopback(true), echo.TrustPrivateNet(true), echo.TrustLinkLocal(false))
}
