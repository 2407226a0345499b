package blnk

import "time"

// Server is a running (or lately running) server as its heartbeats say.
type Server struct {
	ID      string
	Address string
	Started time.Time
	Seen    time.Time
	Applied int64
	// LeaseLeft is how long its lease lasts from the database's now;
	// negative: it ran out that long ago.
	LeaseLeft time.Duration
}
