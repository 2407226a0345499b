// Package passkeys is the service that owns people's passkeys (WebAuthn
// credentials, github.com/go-webauthn/webauthn): adding them, removing
// them, and checking one when a person signs in with it, alone or after
// their password. Every change and its audit event go through it; the
// web pages never write a passkey themselves.
//
// A ceremony takes two requests: Begin* makes the options the browser
// passes to navigator.credentials and keeps what is needed to check the
// answer in the store under the hash of a random token, which the
// browser keeps (in a cookie); Finish* takes it back, once, and checks
// the answer. A challenge is therefore answered once only, on whichever
// server, and for 5 minutes at most.
package passkeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	EnsurePasskeyHandle(ctx context.Context, userID int64, handle []byte) ([]byte, error)
	FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error)
	FindPasskeyUser(ctx context.Context, handle []byte) (int64, error)
	ListPasskeys(ctx context.Context, userID int64) ([]blnk.Passkey, error)
	CreatePasskey(ctx context.Context, p blnk.Passkey, ev audit.Event) error
	DeletePasskey(ctx context.Context, userID int64, id string, ev func(blnk.Passkey) audit.Event) (blnk.Passkey, error)
	UpdatePasskeyUse(ctx context.Context, id string, credential []byte, signCount uint32, now time.Time) error
	CreatePasskeyCeremony(ctx context.Context, tokenHash []byte, c blnk.Ceremony, now time.Time) error
	TakePasskeyCeremony(ctx context.Context, tokenHash []byte, now time.Time) (blnk.Ceremony, error)
}

// Config is the relying party: who the passkeys are for.
type Config struct {
	// RPID is the relying party's id: the domain of the public URL
	// (ParsePublicURL). Passkeys made for one domain work on it only.
	RPID string
	// Origins are the origins a browser's answer may come from.
	Origins []string
	// DisplayName is what authenticators show (default "Blnk Cloud").
	DisplayName string
	// CeremonyTTL is how long a ceremony may take (default 5 minutes).
	CeremonyTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultCeremonyTTL is how long a person has to answer their browser's
// passkey prompt.
const DefaultCeremonyTTL = 5 * time.Minute

// Service adds, removes and checks passkeys.
type Service struct {
	cfg   Config
	store Store
	wa    *webauthn.WebAuthn
	log   *slog.Logger
}

// New returns a Service on store for the relying party of cfg; an error
// when cfg cannot work (ParsePublicURL makes one that can).
func New(cfg Config, store Store, log *slog.Logger) (*Service, error) {
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Blnk Cloud"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = DefaultCeremonyTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	timeout := webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.DisplayName,
		RPOrigins:     cfg.Origins,
		// The time limit is the store's, on the injected clock.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Service{cfg: cfg, store: store, wa: wa, log: log}, nil
}

// RPID is the relying party id passkeys are made for.
func (s *Service) RPID() string { return s.cfg.RPID }

// ParsePublicURL checks the address people open the dashboard at
// (--public-url) and returns the relying party id (its host name) and
// origin passkeys need. Browsers offer WebAuthn in a secure context only,
// and for a domain name, never an IP address: https with a domain, or
// http on localhost (a secure context too) for trying it out.
func ParsePublicURL(raw string) (rpID, origin string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("the public URL %q is not an absolute URL such as https://dash.example.com", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("the public URL %q must be an origin only (scheme, host and port), such as https://dash.example.com", raw)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("the public URL %q names an IP address; passkeys need a domain name (browsers refuse WebAuthn on IP addresses): use https://your-domain or, on this machine, http://localhost:PORT", raw)
	}
	localhost := host == "localhost" || strings.HasSuffix(host, ".localhost")
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && localhost:
	case u.Scheme == "http":
		return "", "", fmt.Errorf("the public URL %q is not https; browsers offer passkeys only over https (or on http://localhost)", raw)
	default:
		return "", "", fmt.Errorf("the public URL %q must start with https://", raw)
	}
	if strings.Trim(host, ".") != host || !strings.Contains(host, ".") && !localhost {
		return "", "", fmt.Errorf("the public URL %q needs a full domain name, such as dash.example.com", raw)
	}
	return host, u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// user is a person as the library sees them.
type user struct {
	id     int64
	handle []byte
	name   string
	keys   []blnk.Passkey // of this relying party
	creds  []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// load returns userID with their passkeys of this relying party.
func (s *Service) load(ctx context.Context, userID int64, name string, handle []byte) (*user, error) {
	keys, err := s.store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	u := &user{id: userID, handle: handle, name: name}
	for _, k := range keys {
		if k.RPID != s.cfg.RPID {
			continue // made for another domain: it cannot answer here
		}
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return nil, fmt.Errorf("passkey %s: %w", k.ID, err)
		}
		u.keys = append(u.keys, k)
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// ceremony is what a ceremony keeps between its two requests.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	Name    string               `json:"name,omitempty"` // of the passkey being added
}

// TokenHash is what the store keeps of a ceremony's token.
func TokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// keep stores a ceremony begun and returns its token.
func (s *Service) keep(ctx context.Context, kind string, userID int64, c ceremony) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	now := s.cfg.Now()
	err = s.store.CreatePasskeyCeremony(ctx, TokenHash(token), blnk.Ceremony{Kind: kind, UserID: userID, Data: data, ExpiresAt: now.Add(s.cfg.CeremonyTTL)}, now)
	return token, err
}

// take ends the ceremony of token, which must be of kind and userID's (0:
// nobody's yet): blnk.ErrCeremonyGone otherwise.
func (s *Service) take(ctx context.Context, token, kind string, userID int64) (ceremony, error) {
	if token == "" || len(token) > 100 {
		return ceremony{}, blnk.ErrCeremonyGone
	}
	c, err := s.store.TakePasskeyCeremony(ctx, TokenHash(token), s.cfg.Now())
	if err != nil {
		return ceremony{}, err
	}
	if c.Kind != kind || c.UserID != userID {
		return ceremony{}, blnk.ErrCeremonyGone
	}
	var out ceremony
	if err := json.Unmarshal(c.Data, &out); err != nil {
		return ceremony{}, err
	}
	return out, nil
}

// refused logs why an answer was refused (the library's details are for
// the logs) and returns the one error people see.
func (s *Service) refused(what string, userID int64, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		s.log.Info("passkey refused", "ceremony", what, "user_id", userID, "reason", pe.Type, "details", pe.Details, "info", pe.DevInfo)
	} else {
		s.log.Info("passkey refused", "ceremony", what, "user_id", userID, "err", err)
	}
	return blnk.ErrPasskeyRefused
}

// BeginAdd starts adding a passkey named name to u: the options for
// navigator.credentials.create() (JSON) and the ceremony's token. The
// passkey is discoverable (a resident key), so that it can sign in
// alone. A bad name is refused here, before the browser asks anything.
func (s *Service) BeginAdd(ctx context.Context, u blnk.User, name string) (options []byte, token string, err error) {
	name, err = blnk.CleanPasskeyName(name)
	if err != nil {
		return nil, "", err
	}
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, "", err
	}
	handle, err := s.store.EnsurePasskeyHandle(ctx, u.ID, fresh[:])
	if err != nil {
		return nil, "", err
	}
	wu, err := s.load(ctx, u.ID, u.Email, handle)
	if err != nil {
		return nil, "", err
	}
	creation, sess, err := s.wa.BeginRegistration(wu,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, "", err
	}
	token, err = s.keep(ctx, blnk.CeremonyRegister, u.ID, ceremony{Session: *sess, Name: name})
	if err != nil {
		return nil, "", err
	}
	options, err = json.Marshal(creation)
	return options, token, err
}

// FinishAdd checks the browser's answer (response, the
// PublicKeyCredential as JSON) to the ceremony of token, begun by u, and
// stores the new passkey with passkey.added, recorded in workspaceID by
// actor.
func (s *Service) FinishAdd(ctx context.Context, u blnk.User, token string, response []byte, actor audit.Actor, workspaceID int64) (blnk.Passkey, error) {
	c, err := s.take(ctx, token, blnk.CeremonyRegister, u.ID)
	if err != nil {
		return blnk.Passkey{}, err
	}
	handle, err := s.store.FindPasskeyHandle(ctx, u.ID)
	if err != nil {
		return blnk.Passkey{}, err
	}
	wu, err := s.load(ctx, u.ID, u.Email, handle)
	if err != nil {
		return blnk.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return blnk.Passkey{}, s.refused("add", u.ID, err)
	}
	cred, err := s.wa.CreateCredential(wu, c.Session, parsed)
	if err != nil {
		return blnk.Passkey{}, s.refused("add", u.ID, err)
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return blnk.Passkey{}, err
	}
	now := s.cfg.Now()
	p := blnk.Passkey{ID: blnk.NewPasskeyID(), UserID: u.ID, RPID: s.cfg.RPID, CredentialID: cred.ID, Name: c.Name,
		Credential: record, SignCount: cred.Authenticator.SignCount, CreatedAt: now.UTC().Truncate(time.Millisecond)}
	ev := audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.PasskeyAdded, Actor: actor,
		Details: map[string]any{"passkey": p.ID, "name": p.Name}}
	if err := s.store.CreatePasskey(ctx, p, ev); err != nil {
		return blnk.Passkey{}, err
	}
	s.log.Info("passkey added", "user_id", u.ID, "passkey", p.ID)
	return p, nil
}

// Remove deletes passkey id of userID and records passkey.removed in
// workspaceID by actor: blnk.ErrNotFound when userID has no such passkey.
func (s *Service) Remove(ctx context.Context, userID int64, id string, actor audit.Actor, workspaceID int64) (blnk.Passkey, error) {
	if !blnk.ValidPasskeyID(id) {
		return blnk.Passkey{}, blnk.ErrNotFound
	}
	now := s.cfg.Now()
	p, err := s.store.DeletePasskey(ctx, userID, id, func(p blnk.Passkey) audit.Event {
		return audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.PasskeyRemoved, Actor: actor,
			Details: map[string]any{"passkey": p.ID, "name": p.Name}}
	})
	if err != nil {
		return blnk.Passkey{}, err
	}
	s.log.Info("passkey removed", "user_id", userID, "passkey", id)
	return p, nil
}

// RemoveAll deletes every passkey of u (of any relying party) for the
// command line (a person who lost every factor), each with
// passkey.removed by by, with the person's email, in each workspace of
// theirs, and returns them.
func (s *Service) RemoveAll(ctx context.Context, by audit.Actor, u blnk.User) ([]blnk.Passkey, error) {
	keys, err := s.store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var removed []blnk.Passkey
	for _, k := range keys {
		p, err := s.store.DeletePasskey(ctx, u.ID, k.ID, func(p blnk.Passkey) audit.Event {
			return audit.Event{At: s.cfg.Now(), Action: audit.PasskeyRemoved, Actor: by,
				Details: map[string]any{"passkey": p.ID, "name": p.Name, "email": u.Email}}
		})
		if errors.Is(err, blnk.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return removed, err
		}
		s.log.Info("passkey removed", "user_id", u.ID, "passkey", p.ID, "by", by.Name())
		removed = append(removed, p)
	}
	return removed, nil
}

// BeginSignIn starts a sign-in with a passkey alone: options for
// navigator.credentials.get() that name no person (the authenticator
// offers its discoverable passkeys for this site), and the token. The
// passkey must verify its user (PIN, biometrics): it is the only factor.
func (s *Service) BeginSignIn(ctx context.Context) (options []byte, token string, err error) {
	assertion, sess, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", err
	}
	token, err = s.keep(ctx, blnk.CeremonyLogin, 0, ceremony{Session: *sess})
	if err != nil {
		return nil, "", err
	}
	options, err = json.Marshal(assertion)
	return options, token, err
}

// FinishSignIn checks the answer to the sign-in ceremony of token and
// returns the person whose passkey it is, and how long the check took.
func (s *Service) FinishSignIn(ctx context.Context, token string, response []byte) (int64, time.Duration, error) {
	c, err := s.take(ctx, token, blnk.CeremonyLogin, 0)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return 0, 0, s.refused("sign-in", 0, err)
	}
	var found *user
	_, cred, err := s.wa.ValidatePasskeyLogin(func(rawID, handle []byte) (webauthn.User, error) {
		id, err := s.store.FindPasskeyUser(ctx, handle)
		if err != nil {
			return nil, err
		}
		found, err = s.load(ctx, id, "", handle)
		return found, err
	}, c.Session, parsed)
	if err != nil {
		var id int64
		if found != nil {
			id = found.id
		}
		return 0, 0, s.refused("sign-in", id, err)
	}
	took := time.Since(start)
	if err := s.used(ctx, found, cred); err != nil {
		return 0, 0, err
	}
	return found.id, took, nil
}

// BeginSecondFactor starts checking a passkey of userID after their
// password: the options name userID's passkeys of this site. It returns
// blnk.ErrNotFound when the person has none.
func (s *Service) BeginSecondFactor(ctx context.Context, userID int64) (options []byte, token string, err error) {
	handle, err := s.store.FindPasskeyHandle(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	wu, err := s.load(ctx, userID, "", handle)
	if err != nil {
		return nil, "", err
	}
	if len(wu.creds) == 0 {
		return nil, "", blnk.ErrNotFound
	}
	assertion, sess, err := s.wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, "", err
	}
	token, err = s.keep(ctx, blnk.CeremonySecondFactor, userID, ceremony{Session: *sess})
	if err != nil {
		return nil, "", err
	}
	options, err = json.Marshal(assertion)
	return options, token, err
}

// FinishSecondFactor checks the answer to the second-factor ceremony of
// token, which must have been begun for userID with one of userID's own
// passkeys; nil when it checks out. It returns how long the check took.
func (s *Service) FinishSecondFactor(ctx context.Context, userID int64, token string, response []byte) (time.Duration, error) {
	c, err := s.take(ctx, token, blnk.CeremonySecondFactor, userID)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	handle, err := s.store.FindPasskeyHandle(ctx, userID)
	if err != nil {
		return 0, err
	}
	wu, err := s.load(ctx, userID, "", handle)
	if err != nil {
		return 0, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return 0, s.refused("second factor", userID, err)
	}
	cred, err := s.wa.ValidateLogin(wu, c.Session, parsed)
	if err != nil {
		return 0, s.refused("second factor", userID, err)
	}
	took := time.Since(start)
	return took, s.used(ctx, wu, cred)
}

// used writes back what a sign-in with cred changed. A sign count that
// went backwards says the passkey was copied: refused.
func (s *Service) used(ctx context.Context, u *user, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		s.log.Warn("passkey refused: its sign count went backwards (a copied authenticator?)", "user_id", u.id)
		return blnk.ErrPasskeyRefused
	}
	for _, k := range u.keys {
		if !bytes.Equal(k.CredentialID, cred.ID) {
			continue
		}
		record, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		if err := s.store.UpdatePasskeyUse(ctx, k.ID, record, cred.Authenticator.SignCount, s.cfg.Now()); err != nil {
			if errors.Is(err, blnk.ErrNotFound) {
				return blnk.ErrPasskeyRefused // removed while it was being used
			}
			return err
		}
		return nil
	}
	return derrors.Errorf(derrors.EINTERNAL, "passkey checked but not found")
}
