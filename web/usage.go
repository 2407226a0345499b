package web

import (
	"context"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// recentAddresses is how many client addresses a key's details list.
const recentAddresses = 10

// keyUsage reads the usage of key id: the stored hourly counts and
// addresses, with what this server counted since its last flush, so the
// page is current. (Other servers' unflushed calls show after their next
// flush, a few seconds at most.)
func (s *Server) keyUsage(ctx context.Context, id string) (views.Usage, error) {
	now := s.cfg.Now()
	stored, err := s.db.KeyUsage(ctx, id, views.UsageSince(now))
	if err != nil {
		return views.Usage{}, err
	}
	hours := map[time.Time]views.Calls{}
	for _, h := range stored {
		add(hours, h.Hour, h.Counts)
	}
	if hour, c := s.auth.Unflushed(id); !hour.IsZero() {
		add(hours, hour, c)
	}
	seen, err := s.db.KeyAddresses(ctx, id, recentAddresses)
	if err != nil {
		return views.Usage{}, err
	}
	addrs := make([]views.Address, 0, len(seen)+1)
	if at, ip, ok := s.auth.LastUsed(id); ok && ip != "" {
		addrs = append(addrs, views.Address{IP: ip, Last: at})
	}
	for _, a := range seen {
		if len(addrs) > 0 && a.IP == addrs[0].IP {
			addrs[0].Last = maxTime(addrs[0].Last, a.At)
			continue
		}
		addrs = append(addrs, views.Address{IP: a.IP, Last: a.At})
	}
	// The one from memory went first; put it where its time says.
	for i := 1; i < len(addrs) && addrs[i].Last.After(addrs[i-1].Last); i++ {
		addrs[i], addrs[i-1] = addrs[i-1], addrs[i]
	}
	if len(addrs) > recentAddresses {
		addrs = addrs[:recentAddresses]
	}
	return views.NewUsage(now, hours, addrs), nil
}

func add(hours map[time.Time]views.Calls, h time.Time, c blnk.Counts) {
	v := hours[h]
	v.Add(c)
	hours[h] = v
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
