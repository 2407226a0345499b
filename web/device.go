package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Device cookies (OWASP's "device cookie" against lockout): a browser
// that signs in to an account receives a cookie naming that account and a
// random nonce, signed with a key derived from the session secret, so
// that every server sharing the secret accepts it. A sign-in that carries
// a valid one for the email it names is limited per device cookie only:
// strangers' failures, which fill the account's and their addresses'
// counts, never block it, and a few wrong passwords from the device lock
// only that device.
//
// One cookie per account (its name carries a keyed hash of the email), so
// that a browser shared by two people is known to both accounts. Only
// /login receives them. Nothing is stored: the signature is the proof, and
// a copied cookie is worth no more than the browser it came from (its
// guesses are counted under its nonce like the browser's own).
const (
	deviceCookiePrefix = "blnk_device_"
	deviceTTL          = 365 * 24 * time.Hour
	devicePath         = "/login"
)

// deriveKey returns a key for purpose made from the session secret.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// deviceAccount names the account of email in device cookies: a keyed
// hash, so that the cookie holds no email and its name tells nothing to
// whoever lacks the secret.
func (s *Server) deviceAccount(email string) []byte {
	m := hmac.New(sha256.New, s.deviceKey)
	m.Write([]byte("account\x00" + email))
	return m.Sum(nil)
}

// deviceCookieName is the name of email's device cookie.
func deviceCookieName(account []byte) string {
	return deviceCookiePrefix + hex.EncodeToString(account[:8])
}

// deviceMAC signs a device cookie: the account, the nonce and the expiry.
func (s *Server) deviceMAC(account []byte, nonce string, until int64) []byte {
	m := hmac.New(sha256.New, s.deviceKey)
	m.Write(account)
	m.Write([]byte(nonce))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(until)))
	return m.Sum(nil)
}

// setDeviceCookie makes the browser known to email's account for a year,
// with a new nonce: a device whose own failures slowed it down starts
// afresh once it has proved itself.
func (s *Server) setDeviceCookie(c echo.Context, email string) error {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	nonce := base64.RawURLEncoding.EncodeToString(raw[:])
	account := s.deviceAccount(email)
	until := s.cfg.Now().Add(deviceTTL).Unix()
	value := nonce + "." + strconv.FormatInt(until, 10) + "." +
		base64.RawURLEncoding.EncodeToString(s.deviceMAC(account, nonce, until))
	c.SetCookie(&http.Cookie{
		Name:     deviceCookieName(account),
		Value:    value,
		Path:     devicePath,
		MaxAge:   int(deviceTTL / time.Second),
		HttpOnly: true,
		Secure:   s.isTLS(c.Request()),
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// knownDevice returns the nonce of the request's valid device cookie for
// email's account, or "" if it has none: a cookie of another account, a
// forged, altered or expired one is no cookie.
func (s *Server) knownDevice(c echo.Context, email string) string {
	account := s.deviceAccount(email)
	ck, err := c.Request().Cookie(deviceCookieName(account))
	if err != nil {
		return ""
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 3 {
		return ""
	}
	nonce := parts[0]
	until, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return ""
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(mac, s.deviceMAC(account, nonce, until)) {
		return ""
	}
	if s.cfg.Now().Unix() >= until {
		return ""
	}
	return nonce
}
