package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// Record is a key as the store holds it: what checking it needs.
type Record struct {
	Hash          apikey.Hash
	Key           apikey.Key
	WorkspaceName string
}

// Use is one key's most recent use, or its most recent use from one
// address.
type Use struct {
	KeyID string
	At    time.Time
	IP    string
}

// Counts is how many calls a key got: accepted, and refused because the
// key was revoked, expired, lacked the scope asked for, or the client's
// address is not on its allowlist.
type Counts struct {
	Accepted                         int64
	Revoked, Expired, Scope, Address int64
}

// Refused returns the refused calls, whatever the reason.
func (c Counts) Refused() int64 { return c.Revoked + c.Expired + c.Scope + c.Address }

// Total returns every call.
func (c Counts) Total() int64 { return c.Accepted + c.Refused() }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Accepted += o.Accepted
	c.Revoked += o.Revoked
	c.Expired += o.Expired
	c.Scope += o.Scope
	c.Address += o.Address
}

// HourCount is a key's calls during the hour starting at Hour.
type HourCount struct {
	KeyID string
	Hour  time.Time
	Counts
}

// Refusal is a key's most recent refused call: when, from which
// address, and why. It is never a use: "last used" is the last accepted
// call.
type Refusal struct {
	KeyID  string
	At     time.Time
	IP     string
	Reason RefusalReason
}

// RefusalReason says why a call with a known key was refused.
type RefusalReason string

// The reasons, as stored.
const (
	RefusedRevoked RefusalReason = "revoked"
	RefusedExpired RefusalReason = "expired"
	RefusedScope   RefusalReason = "scope"
	RefusedAddress RefusalReason = "address"
)

// Usage is what a flush writes.
type Usage struct {
	Uses      []Use       // the last use (accepted call) of each key
	Addresses []Use       // addresses keys were used from, with the last time
	Hours     []HourCount // calls to add to the stored counts
	Refusals  []Refusal   // the last refused call of each key
}

// Heartbeat says that server ServerID (listening at Address since
// Started) is alive at At and has applied the key changes up to Applied,
// and asks to renew the lease it holds (Held, as the store last returned
// it; 0: none) for Renew from the database's now.
type Heartbeat struct {
	ServerID string
	Address  string
	Started  time.Time
	At       time.Time
	Applied  int64
	Held     int64
	Renew    time.Duration
}

// Lease is what a heartbeat did to a server's lease: Renewed, or not (the
// lease held was no longer the stored one, or none was held: the server
// claimed a new one, and must read the changes again before a heartbeat
// can renew it). Held is the value to hold for the next heartbeat.
type Lease struct {
	Held    int64
	Renewed bool
}
