package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// MaxURLLen is the longest endpoint URL accepted.
const MaxURLLen = 2000

// CheckURL checks an endpoint URL as typed and returns it normalised: an
// absolute http or https URL with a host, without credentials (they would
// show in the list; receivers check the signature instead) or fragment.
// Its messages are for the person who typed it.
func CheckURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", derrors.Errorf(derrors.EINVALID, "Enter the URL that should receive the events.")
	case len(raw) > MaxURLLen:
		return "", derrors.Errorf(derrors.EINVALID, "Use a URL of at most %d characters.", MaxURLLen)
	case !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n"):
		return "", derrors.Errorf(derrors.EINVALID, "Enter a URL without spaces, such as https://example.com/hooks/blnk.")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", derrors.Errorf(derrors.EINVALID, "Enter a URL such as https://example.com/hooks/blnk.")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", derrors.Errorf(derrors.EINVALID, "Use an http:// or https:// URL.")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", derrors.Errorf(derrors.EINVALID, "Enter a URL with a host, such as https://example.com/hooks/blnk.")
	case u.User != nil:
		return "", derrors.Errorf(derrors.EINVALID, "Leave credentials out of the URL: receivers check the webhook-signature header instead.")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", derrors.Errorf(derrors.EINVALID, "Leave the #fragment out: it is never sent.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", derrors.Errorf(derrors.EINVALID, "Use a port between 1 and 65535.")
		}
	}
	return u.String(), nil
}

// Guard decides which addresses webhooks may reach. By default only
// public unicast addresses (see PublicAddr): a webhook is a request the
// server makes on a workspace admin's behalf, and one aimed at loopback,
// the private network or a cloud's metadata address would turn "Send test
// event" into a scanner of the server's network. AllowPrivate lifts that
// for receivers on the operator's own network. Whatever the setting, this
// server's own listen address is refused: a webhook pointed at the
// dashboard itself would make it call its own routes with requests it
// signs.
//
// The decision is made twice. When an endpoint is added, on what the URL
// says (CheckURL: a literal address, localhost; names are resolved only to
// find this server). And on every connection a delivery makes, on the
// address actually dialled, after name resolution and before connecting
// (Control): a name that resolves, or later re-resolves, to a refused
// address is caught without a packet sent to it.
//
// A nil Guard is the default policy: public addresses only, with no own
// address to know of.
type Guard struct {
	// AllowPrivate lets deliveries reach any address but this server's
	// (--webhook-allow-private).
	AllowPrivate bool
	// IsPublic replaces PublicAddr, for tests only: one that needs a
	// receiver on loopback to count as public (no public receiver can be
	// run in a test) sets it to that one address and port, and defers to
	// PublicAddr for every other.
	IsPublic func(netip.AddrPort) bool

	port  int                 // 0: no own address known
	addrs map[netip.Addr]bool // the listen address, or every local one when it is unspecified
}

// NewGuard returns the guard of a server listening at listen ("host:port",
// as net.Listener.Addr says).
func NewGuard(listen string, allowPrivate bool) (*Guard, error) {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return nil, fmt.Errorf("webhook guard: listen address %q: %w", listen, err)
	}
	g := &Guard{AllowPrivate: allowPrivate, port: int(ap.Port()), addrs: map[netip.Addr]bool{ap.Addr().Unmap(): true}}
	if ap.Addr().IsUnspecified() {
		ifaces, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("webhook guard: local addresses: %w", err)
		}
		for _, a := range ifaces {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				g.addrs[p.Addr().Unmap()] = true
			}
		}
	}
	return g, nil
}

// ErrOwnAddress is the error of a URL or connection that would reach this
// server.
var ErrOwnAddress = errors.New("webhook: the URL points at this server")

// ErrPrivateAddress is the error of a URL or connection that would reach
// an address that is not public, without AllowPrivate.
var ErrPrivateAddress = errors.New("webhook: the URL reaches a private address")

// Allowed returns ErrOwnAddress for an address this server listens on (its
// listen address, any local address when it listens on all of them, and
// any loopback or unspecified address with its port), and
// ErrPrivateAddress for one that is not public, unless AllowPrivate.
func (g *Guard) Allowed(ap netip.AddrPort) error {
	if g == nil {
		g = &Guard{}
	}
	a := ap.Addr().Unmap().WithZone("")
	if g.port != 0 && int(ap.Port()) == g.port && (a.IsLoopback() || a.IsUnspecified() || g.addrs[a]) {
		return ErrOwnAddress
	}
	if g.AllowPrivate {
		return nil
	}
	public := g.IsPublic != nil && g.IsPublic(ap) || g.IsPublic == nil && PublicAddr(a)
	if !public {
		return ErrPrivateAddress
	}
	return nil
}

// CheckURL checks the host of a URL that CheckURL (the function) accepted,
// when an endpoint is added: a literal address (in any form a resolver
// reads, such as 127.1 or 0x7f000001) or localhost that is not allowed
// is ErrPrivateAddress; a host that is, or resolves to, this server is
// ErrOwnAddress. Other names are not resolved to decide whether they are
// public (that would tell an admin which internal names exist): every
// connection is checked instead. A name that does not resolve is let
// through: it may resolve later.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	lit, isLit := literalAddr(host)
	if g != nil && g.port != 0 && port == g.port {
		var ips []netip.Addr
		if isLit {
			ips = []netip.Addr{lit}
		} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			ips = nil
		}
		for _, a := range ips {
			if errors.Is(g.Allowed(netip.AddrPortFrom(a, uint16(port))), ErrOwnAddress) {
				return ErrOwnAddress
			}
		}
	}
	if g != nil && g.AllowPrivate {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") { // RFC 6761: always loopback
		return ErrPrivateAddress
	}
	if isLit {
		return g.Allowed(netip.AddrPortFrom(lit, uint16(port)))
	}
	return nil
}

// literalAddr reads host as an IP address: IPv6 (with or without a zone),
// IPv4 in dotted decimal, and the older forms inet_aton and many
// resolvers still accept (fewer parts, such as 127.1 or 2130706433, and
// octal or hexadecimal parts, such as 0177.0.0.1 or 0x7f000001), which a
// resolver of the system would turn into the address they name.
func literalAddr(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base != 16 || strings.ContainsAny(digits, "+-_") {
			return netip.Addr{}, false
		}
		if digits == "" {
			digits = "0" // "0x" alone is 0 to inet_aton
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	// Every part but the last is one byte; the last fills the rest.
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Control is a net.Dialer's Control function: it runs once the name is
// resolved, on the address about to be dialled, before any packet is sent
// to it, and refuses what Allowed refuses.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	return g.Allowed(ap)
}

// notPublic are the ranges of IANA's special-purpose registries (RFC 6890
// and its updates) that PublicAddr refuses, beyond what netip's methods
// say: shared (carrier-grade NAT), this-network, protocol assignments,
// documentation and benchmarking, and the reserved 240/4 (with the
// broadcast address). Documentation and benchmarking ranges never hold a
// real receiver, and benchmarking ones are often lab networks: refused.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // this network
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, benchmarking, ...)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// PublicAddr reports whether a is a public unicast address, one a webhook
// may reach by default. Refused: loopback, private (10/8, 172.16/12,
// 192.168/16, fc00::/7), link-local (169.254/16, where clouds answer
// metadata requests, and fe80::/10), unspecified, multicast, broadcast,
// the ranges of notPublic, and every IPv6 address outside 2000::/3 (the
// only global unicast space allocated). An IPv4-mapped IPv6 address is
// judged as its IPv4 address, and so are the IPv4 addresses that NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses embed.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return false
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		case !globalUnicast6.Contains(a):
			return false
		}
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
