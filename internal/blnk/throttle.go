package blnk

import "time"

// Bucket is one key's allowance as a store keeps it: Tokens failures
// still allowed at instant At.
type Bucket struct {
	Tokens float64
	At     time.Time
}
