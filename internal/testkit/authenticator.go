package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator is a software passkey authenticator for tests, as a
// browser and a platform authenticator together would answer
// navigator.credentials.create() and get(): ES256 keys, "none"
// attestation, user presence and verification always given. Origin is
// the origin the "browser" puts in its client data (a test changes it to
// play another site).
type Authenticator struct {
	Origin string
	creds  []*SoftCredential
}

// SoftCredential is a passkey an Authenticator made.
type SoftCredential struct {
	ID     []byte
	RPID   string
	Handle []byte // the user handle the site gave
	key    *ecdsa.PrivateKey
	// Count is the signature counter; tests may wind it back.
	Count uint32
}

// NewAuthenticator returns an Authenticator answering as origin.
func NewAuthenticator(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// Credentials returns the passkeys made so far, oldest first.
func (a *Authenticator) Credentials() []*SoftCredential { return a.creds }

var b64 = base64.RawURLEncoding

// Create answers creation options (the JSON the site sends for
// navigator.credentials.create) with a new credential, as JSON.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user.id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &SoftCredential{ID: make([]byte, 32), RPID: o.PublicKey.RP.ID, Handle: handle, key: key}
	rand.Read(c.ID)
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		return nil, err
	}
	auth := authData(c.RPID, 0x45, 0) // user present, verified, attested data
	auth = append(auth, make([]byte, 16)...)
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(c.ID)))
	auth = append(auth, c.ID...)
	auth = append(auth, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	client := a.clientData("webauthn.create", o.PublicKey.Challenge)
	a.creds = append(a.creds, c)
	return c.credentialJSON(map[string]any{
		"attestationObject": b64.EncodeToString(att),
		"clientDataJSON":    b64.EncodeToString(client),
		"transports":        []string{"internal"},
	}, map[string]any{"credProps": map[string]any{"rk": true}})
}

// Get answers request options (for navigator.credentials.get) with an
// assertion of the newest credential for the site the options name (or
// of the first one allowCredentials lists that this authenticator has).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
			Allow     []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	var c *SoftCredential
	for i := len(a.creds) - 1; i >= 0 && c == nil; i-- {
		cand := a.creds[i]
		if cand.RPID != o.PublicKey.RPID {
			continue
		}
		if len(o.PublicKey.Allow) == 0 {
			c = cand
		}
		for _, al := range o.PublicKey.Allow {
			if al.ID == b64.EncodeToString(cand.ID) {
				c = cand
			}
		}
	}
	if c == nil {
		return nil, errors.New("testkit: no credential for these options")
	}
	return a.Sign(c, o.PublicKey.Challenge)
}

// Sign makes c's assertion of challenge (base64url), as Get does, so
// that a test can answer with a credential of its choice.
func (a *Authenticator) Sign(c *SoftCredential, challenge string) ([]byte, error) {
	c.Count++
	auth := authData(c.RPID, 0x05, c.Count) // user present, verified
	client := a.clientData("webauthn.get", challenge)
	sum := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, auth...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return c.credentialJSON(map[string]any{
		"authenticatorData": b64.EncodeToString(auth),
		"clientDataJSON":    b64.EncodeToString(client),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(c.Handle),
	}, map[string]any{})
}

// credentialJSON is c as a browser's PublicKeyCredential in JSON, with the
// response of a create or a get and its extensions' results.
func (c *SoftCredential) credentialJSON(response, extensions map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response":                response,
		"clientExtensionResults":  extensions,
	})
}

func authData(rpID string, flags byte, count uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, count)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}
