package apikey

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// MaxAllowlist is the most CIDRs a key's IP allowlist may hold.
const MaxAllowlist = 50

// ParseAllowlist reads an IP allowlist as people type it: CIDRs (IPv4 or
// IPv6) one a line or separated by commas, blank entries ignored. A bare
// address stands for itself (/32 or /128). Each CIDR is normalised: the
// address masked to its prefix (10.1.2.3/8 is 10.0.0.0/8), IPv4-mapped
// IPv6 written as IPv4, IPv6 in its canonical form. It refuses anything
// that is not a CIDR, more than MaxAllowlist entries, and duplicates
// (after normalisation), with a message for the person who typed it. An
// empty list means every address may use the key. Forms use
// CleanAllowlist, which adds the rules of what people may save.
func ParseAllowlist(text string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	var out []netip.Prefix
	seen := map[netip.Prefix]string{}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := parseCIDR(f)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[p]; dup {
			if first == f {
				return nil, derrors.Errorf(derrors.EINVALID, "%s is listed twice.", shorten(f))
			}
			return nil, derrors.Errorf(derrors.EINVALID, "%s and %s are the same network (%s): list it once.", shorten(first), shorten(f), p)
		}
		seen[p] = f
		out = append(out, p)
	}
	if len(out) > MaxAllowlist {
		return nil, derrors.Errorf(derrors.EINVALID, "List at most %d networks (this list has %d).", MaxAllowlist, len(out))
	}
	return out, nil
}

// CleanAllowlist reads an allowlist people typed (ParseAllowlist) and
// refuses what must not be saved: a key pasted into it
// (ErrLooksLikeKey), and a network of every address, 0.0.0.0/0 or ::/0,
// which looks like a restriction and is none (every IPv4 client, in most
// places every client): the message says to leave the allowlist empty to
// allow every address.
func CleanAllowlist(text string) ([]netip.Prefix, error) {
	if ContainsToken(text) {
		return nil, ErrLooksLikeKey
	}
	list, err := ParseAllowlist(text)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.Bits() == 0 {
			family := "IPv4"
			if p.Addr().Is6() {
				family = "IPv6"
			}
			return nil, derrors.Errorf(derrors.EINVALID, "%s allows every %s address, so the allowlist would not protect the key: leave the allowlist empty to allow every address, or list your own networks.", p, family)
		}
	}
	return list, nil
}

// parseCIDR reads one entry of an allowlist and normalises it.
func parseCIDR(s string) (netip.Prefix, error) {
	bad := derrors.Errorf(derrors.EINVALID, "%s is not an IP address or CIDR, such as 203.0.113.0/24 or 2001:db8::/32.", shorten(s))
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, bad
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, bad
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, derrors.Errorf(derrors.EINVALID, "%s mixes IPv4 and IPv6: write the IPv4 network, such as 203.0.113.0/24.", shorten(s))
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// shorten keeps a message about a typed value readable.
func shorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// FormatAllowlist writes an allowlist as stored: normalised CIDRs joined
// by commas ("" for none).
func FormatAllowlist(list []netip.Prefix) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// errStoredAllowlist is returned for a stored allowlist that does not
// parse: the database was changed by hand.
var errStoredAllowlist = errors.New("apikey: stored allowlist does not parse")

// ParseStoredAllowlist reads an allowlist written by FormatAllowlist.
func ParseStoredAllowlist(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", errStoredAllowlist, f)
		}
		out = append(out, p)
	}
	return out, nil
}
