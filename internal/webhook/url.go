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
		return "", errors.New("Enter the URL that should receive the events.")
	case len(raw) > MaxURLLen:
		return "", fmt.Errorf("Use a URL of at most %d characters.", MaxURLLen)
	case !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n"):
		return "", errors.New("Enter a URL without spaces, such as https://example.com/hooks/blnk.")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("Enter a URL such as https://example.com/hooks/blnk.")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("Use an http:// or https:// URL.")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", errors.New("Enter a URL with a host, such as https://example.com/hooks/blnk.")
	case u.User != nil:
		return "", errors.New("Leave credentials out of the URL: receivers check the webhook-signature header instead.")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", errors.New("Leave the #fragment out: it is never sent.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("Use a port between 1 and 65535.")
		}
	}
	return u.String(), nil
}

// Guard keeps deliveries from reaching this server's own listen address:
// a webhook pointed at the dashboard itself would make it call its own
// routes with requests it signs. The check runs when an endpoint is added
// (its host resolved) and again on every connection a delivery makes (on
// the address actually dialled, so a name that later resolves elsewhere
// is caught too). A nil Guard allows everything.
type Guard struct {
	port  int
	addrs map[netip.Addr]bool // the listen address, or every local one when it is unspecified
}

// NewGuard returns the guard of a server listening at listen ("host:port",
// as net.Listener.Addr says).
func NewGuard(listen string) (*Guard, error) {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return nil, fmt.Errorf("webhook guard: listen address %q: %w", listen, err)
	}
	g := &Guard{port: int(ap.Port()), addrs: map[netip.Addr]bool{ap.Addr().Unmap(): true}}
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

// Allowed returns ErrOwnAddress for an address this server listens on: its
// listen address, any local address when it listens on all of them, and
// any loopback or unspecified address with its port.
func (g *Guard) Allowed(ap netip.AddrPort) error {
	if g == nil || int(ap.Port()) != g.port {
		return nil
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() || a.IsUnspecified() || g.addrs[a] {
		return ErrOwnAddress
	}
	return nil
}

// CheckURL resolves the host of a checked URL and returns ErrOwnAddress if
// any of its addresses is this server's. A host that does not resolve is
// let through: it may resolve later, and every connection is checked.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	if g == nil {
		return nil
	}
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
	if port != g.port {
		return nil
	}
	host := u.Hostname()
	var ips []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil
	}
	for _, a := range ips {
		if err := g.Allowed(netip.AddrPortFrom(a, uint16(port))); err != nil {
			return err
		}
	}
	return nil
}

// Control is a net.Dialer's Control function that refuses connections to
// this server.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	return g.Allowed(ap)
}
