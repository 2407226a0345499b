// Package twofactor is the service that owns every change to people's
// second factors and what depends on them: a TOTP factor (RFC 6238, 6
// digits, 30 s; set up, checked once per code, removed), its ten
// single-use recovery codes, an Owner's requirement of a second factor
// in a workspace, and sudo mode (a password or factor given again before
// a dangerous action). Each write records its audit event in the same
// transaction. The web pages go through it, never to the store.
//
// TOTP secrets are stored sealed (AES-256-GCM, bound to their person)
// under a key derived with HKDF-SHA256 from the server's session secret;
// recovery codes as an HMAC-SHA256 under another key derived from it. A
// stolen database without that secret yields neither.
package twofactor

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	FindFactors(ctx context.Context, userID int64) (blnk.Factors, error)
	TOTPFactor(ctx context.Context, userID int64) (blnk.TOTPFactor, error)
	EnableTOTP(ctx context.Context, f blnk.TOTPFactor, codes [][]byte, ev audit.Event) error
	UseTOTPStep(ctx context.Context, userID, step int64) (bool, error)
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte, now time.Time, ev audit.Event) (bool, error)
	ReplaceRecoveryCodes(ctx context.Context, userID int64, codes [][]byte, ev audit.Event) error
	DeleteTOTP(ctx context.Context, userID int64, ev audit.Event) error
	UpdateRequireTwoFactor(ctx context.Context, workspaceID int64, on bool, ev audit.Event) (bool, error)
	SetSessionSudo(ctx context.Context, tokenHash []byte, at time.Time, ev audit.Event) error
}

// Period is the TOTP time step; Skew how many steps either side of now a
// code may be from (one: 30 s of clock drift, and the time to type it).
const (
	Period        = 30
	Skew          = 1
	RecoveryCount = 10
	// Issuer names this service in authenticator apps.
	Issuer = "Blnk Cloud"
)

// Errors the pages show.
var (
	// ErrWrongCode: the code is not a current TOTP code of the person,
	// was used already, or is no unused recovery code.
	ErrWrongCode = derrors.Errorf(derrors.EINVALID, "That code is not right, or was used already. Enter the current code from your app, or a recovery code.")
	// ErrNoCode: nothing was typed.
	ErrNoCode = derrors.Errorf(derrors.EINVALID, "Enter the 6-digit code from your authenticator app, or a recovery code.")
	// ErrSetupCode: the first code does not match the secret being set up.
	ErrSetupCode = derrors.Errorf(derrors.EINVALID, "That code does not match. Check the time on your phone, then enter the current 6-digit code.")
	// ErrNeedFactorFirst: an Owner requiring two-factor sign-in has none.
	ErrNeedFactorFirst = derrors.Errorf(derrors.ECONFLICT, "Set up a second factor for yourself before requiring one of everyone.")
)

// Actor is who asks: the person, the workspace of their session (where
// the audit events go) and their role there.
type Actor struct {
	audit.Actor
	WorkspaceID int64
	Role        blnk.Role
}

// Service changes second factors.
type Service struct {
	store   Store
	aead    cipher.AEAD
	codeKey []byte
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Service on store, whose keys are derived from secret
// (the server's session secret, at least 32 bytes).
func New(store Store, secret []byte, now func() time.Time, log *slog.Logger) (*Service, error) {
	if len(secret) < 32 {
		return nil, errors.New("twofactor: secret must be at least 32 bytes")
	}
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "blnk totp secrets: aes-256-gcm", 32)
	if err != nil {
		return nil, err
	}
	codeKey, err := hkdf.Key(sha256.New, secret, nil, "blnk recovery codes: hmac-sha256", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, aead: aead, codeKey: codeKey, now: now, log: log}, nil
}

// Factors returns the second factors of userID.
func (s *Service) Factors(ctx context.Context, userID int64) (blnk.Factors, error) {
	return s.store.FindFactors(ctx, userID)
}

// NewSecret returns a new random TOTP secret (160 bits, base32), for the
// set-up page to show until its first code confirms it.
func NewSecret() (string, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: "x", SecretSize: 20, Rand: rand.Reader})
	if err != nil {
		return "", err
	}
	return k.Secret(), nil
}

// Key returns the otpauth:// key of secret for account (an email), which
// authenticator apps read from a QR code.
func Key(secret, account string) (*otp.Key, error) {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", Issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + Issuer + ":" + account, RawQuery: v.Encode()}
	return otp.NewKeyFromURL(u.String())
}

var codeOpts = totp.ValidateOpts{Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Code returns secret's code at t (tests, and the e2e tests' "phone").
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, codeOpts)
}

// matchStep returns the time step, within Skew of now, whose code of
// secret is code; ok false when none is.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	cur := now.Unix() / Period
	found, step := 0, int64(0)
	for st := cur - Skew; st <= cur+Skew; st++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*Period, 0), codeOpts)
		if err != nil {
			return 0, false
		}
		// Every candidate is compared, in constant time: the time taken
		// says nothing about which was close.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			found, step = 1, st
		}
	}
	return step, found == 1
}

// kind tells a TOTP code from a recovery code as typed: spaces and
// hyphens do not count, case does not matter.
func kind(code string) (clean string, isTOTP, isRecovery bool) {
	clean = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	if len(clean) == 6 && strings.Trim(clean, "0123456789") == "" {
		return clean, true, false
	}
	if len(clean) == recoveryLen && strings.Trim(clean, recoveryAlphabet) == "" {
		return clean, false, true
	}
	return clean, false, false
}

// Recovery codes: 10 characters of an alphabet without look-alikes
// (about 49 bits), shown as xxxxx-xxxxx.
const (
	recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	recoveryLen      = 10
)

func newRecoveryCodes() ([]string, error) {
	out := make([]string, RecoveryCount)
	for i := range out {
		var b strings.Builder
		buf := make([]byte, 1)
		for b.Len() < recoveryLen {
			if _, err := rand.Read(buf); err != nil {
				return nil, err
			}
			// Rejection sampling: no character more likely than another.
			if int(buf[0]) >= 256/len(recoveryAlphabet)*len(recoveryAlphabet) {
				continue
			}
			b.WriteByte(recoveryAlphabet[int(buf[0])%len(recoveryAlphabet)])
		}
		c := b.String()
		out[i] = c[:5] + "-" + c[5:]
	}
	return out, nil
}

// codeHash is what the store keeps of a recovery code (clean: as kind
// returns it).
func (s *Service) codeHash(userID int64, clean string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(userID))
	m.Write(id[:])
	m.Write([]byte(clean))
	return m.Sum(nil)
}

func (s *Service) hashes(userID int64, codes []string) [][]byte {
	out := make([][]byte, len(codes))
	for i, c := range codes {
		clean, _, _ := kind(c)
		out[i] = s.codeHash(userID, clean)
	}
	return out
}

// userAD binds a sealed secret to its person: a sealed secret copied to
// another person's row does not open.
func userAD(userID int64) []byte {
	return fmt.Appendf(nil, "blnk totp user %d", userID)
}

func (s *Service) seal(userID int64, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), userAD(userID)), nil
}

func (s *Service) open(userID int64, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("twofactor: sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], userAD(userID))
	if err != nil {
		return "", fmt.Errorf("twofactor: open the TOTP secret (was the session secret changed?): %w", err)
	}
	return string(plain), nil
}

func (s *Service) event(by Actor, action audit.Action, details map[string]any) audit.Event {
	return audit.Event{WorkspaceID: by.WorkspaceID, At: s.now(), Action: action, Actor: by.Actor, Details: details}
}

// Enable sets up secret as by's TOTP factor once code, its first code,
// matches it (ErrSetupCode otherwise), and returns the ten recovery
// codes, to be shown once. The first code is used: it cannot sign in.
// blnk.ErrAlreadySet when the person has a TOTP factor already.
func (s *Service) Enable(ctx context.Context, by Actor, secret, code string) ([]string, error) {
	clean, isTOTP, _ := kind(code)
	if clean == "" {
		return nil, ErrNoCode
	}
	step, ok := matchStep(secret, clean, s.now())
	if !isTOTP || !ok {
		return nil, ErrSetupCode
	}
	sealed, err := s.seal(by.UserID, secret)
	if err != nil {
		return nil, err
	}
	codes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	f := blnk.TOTPFactor{UserID: by.UserID, Sealed: sealed, LastStep: step, CreatedAt: s.now()}
	if err := s.store.EnableTOTP(ctx, f, s.hashes(by.UserID, codes), s.event(by, audit.TwoFactorEnabled, map[string]any{"factor": "totp"})); err != nil {
		return nil, err
	}
	s.log.Info("two-factor enabled", "user_id", by.UserID, "factor", "totp")
	return codes, nil
}

// Method is how a second factor was given.
type Method string

// The methods.
const (
	ByTOTP     Method = "totp"
	ByRecovery Method = "recovery code"
)

// Check checks code, a TOTP code or a recovery code, as by's second
// factor: a TOTP code of a time step within Skew of now that is later
// than the last one accepted (a code is accepted once, and none older
// than it after), or an unused recovery code, which is used up
// (two_factor.recovery_used). ErrWrongCode otherwise; ErrNoCode for
// nothing.
func (s *Service) Check(ctx context.Context, by Actor, code string) (Method, error) {
	clean, isTOTP, isRecovery := kind(code)
	switch {
	case clean == "":
		return "", ErrNoCode
	case isTOTP:
		f, err := s.store.TOTPFactor(ctx, by.UserID)
		if errors.Is(err, blnk.ErrNotFound) {
			return "", ErrWrongCode
		}
		if err != nil {
			return "", err
		}
		secret, err := s.open(by.UserID, f.Sealed)
		if err != nil {
			return "", err
		}
		step, ok := matchStep(secret, clean, s.now())
		if !ok || step <= f.LastStep {
			return "", ErrWrongCode
		}
		used, err := s.store.UseTOTPStep(ctx, by.UserID, step)
		if err != nil {
			return "", err
		}
		if !used {
			return "", ErrWrongCode // the same code, accepted elsewhere a moment ago
		}
		return ByTOTP, nil
	case isRecovery:
		now := s.now()
		ok, err := s.store.UseRecoveryCode(ctx, by.UserID, s.codeHash(by.UserID, clean), now,
			s.event(by, audit.TwoFactorRecoveryUsed, nil))
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrWrongCode
		}
		s.log.Info("recovery code used", "user_id", by.UserID)
		return ByRecovery, nil
	}
	return "", ErrWrongCode
}

// RegenerateCodes replaces by's recovery codes by ten new ones, returned
// to be shown once: blnk.ErrNotFound without a TOTP factor.
func (s *Service) RegenerateCodes(ctx context.Context, by Actor) ([]string, error) {
	codes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, by.UserID, s.hashes(by.UserID, codes), s.event(by, audit.TwoFactorRecoveryNew, nil)); err != nil {
		return nil, err
	}
	return codes, nil
}

// Disable removes by's TOTP factor and recovery codes
// (two_factor.disabled): blnk.ErrNotFound when there was none.
func (s *Service) Disable(ctx context.Context, by Actor) error {
	if err := s.store.DeleteTOTP(ctx, by.UserID, s.event(by, audit.TwoFactorDisabled, map[string]any{"factor": "totp"})); err != nil {
		return err
	}
	s.log.Info("two-factor disabled", "user_id", by.UserID, "factor", "totp")
	return nil
}

// Reset removes u's TOTP factor and recovery codes for the command line
// (a person who lost every factor): two_factor.disabled by by, with the
// person's email, in each workspace of theirs. false when there was none.
func (s *Service) Reset(ctx context.Context, by audit.Actor, u blnk.User) (bool, error) {
	ev := audit.Event{At: s.now(), Action: audit.TwoFactorDisabled, Actor: by, Details: map[string]any{"factor": "totp", "email": u.Email}}
	err := s.store.DeleteTOTP(ctx, u.ID, ev)
	if errors.Is(err, blnk.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.log.Info("two-factor reset", "user_id", u.ID, "factor", "totp", "by", by.Name())
	return true, nil
}

// SetRequireTwoFactor switches workspaceID's requirement of a second
// factor for every member (two_factor.required, with "required": on).
// Only its Owners may; an Owner turning it on must have a factor
// (ErrNeedFactorFirst). Setting it as it is already changes nothing.
func (s *Service) SetRequireTwoFactor(ctx context.Context, by Actor, workspaceID int64, on bool) error {
	if by.WorkspaceID != workspaceID || by.Role != blnk.RoleOwner {
		return blnk.Forbidden(blnk.RoleOwner, "Requiring two-factor sign-in")
	}
	if on {
		f, err := s.store.FindFactors(ctx, by.UserID)
		if err != nil {
			return err
		}
		if !f.Any() {
			return ErrNeedFactorFirst
		}
	}
	changed, err := s.store.UpdateRequireTwoFactor(ctx, workspaceID, on, s.event(by, audit.TwoFactorRequired, map[string]any{"required": on}))
	if err == nil && changed {
		s.log.Info("two-factor requirement changed", "workspace_id", workspaceID, "required", on)
	}
	return err
}

// GrantSudo records that the session of tokenHash gave by's password or
// a second factor now (user.sudo, with how): dangerous actions need no
// other for blnk.SudoWindow.
func (s *Service) GrantSudo(ctx context.Context, by Actor, tokenHash []byte, how string) error {
	now := s.now()
	return s.store.SetSessionSudo(ctx, tokenHash, now, s.event(by, audit.UserSudo, map[string]any{"with": how}))
}
