package web

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// ipExtractor reads the client's address. Without trusted proxies it is
// the connection's. With them, X-Forwarded-For is read only when the
// connection comes from one of them, from the right: each trusted proxy
// appends the address it was reached from, so the right-most entry not in
// the list is the last address a proxy of ours vouches for, and whatever
// stands left of it was written by the client. An entry that is not an
// address makes the connection's address count; a chain of trusted
// proxies only gives its left-most entry. Nothing is implied: loopback
// and private addresses are clients like any other unless listed.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixNet(p)))
	}
	xff := echo.ExtractIPFromXFFHeader(opts...)
	return func(r *http.Request) string {
		ip := xff(r)
		// The left-most entry comes back as written: one form of each
		// address, so that limiters and allowlists see one key.
		if a, err := netip.ParseAddr(ip); err == nil {
			return a.Unmap().String()
		}
		return ip
	}
}

// prefixNet is p as the *net.IPNet echo wants.
func prefixNet(p netip.Prefix) *net.IPNet {
	bits := p.Addr().BitLen()
	return &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// fromTrustedProxy reports whether r's connection comes from one of the
// trusted proxies, whose X-Forwarded-* headers are believed.
func fromTrustedProxy(trusted []netip.Prefix, r *http.Request) bool {
	if len(trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
