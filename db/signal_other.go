//go:build !unix

package db

import "errors"

// changeSignal needs shared memory maps; elsewhere only the poll follows
// other processes' changes.
type changeSignal struct{}

func openSignal(string) (*changeSignal, error) {
	return nil, errors.New("shared change signal needs a unix system")
}

func (s *changeSignal) load() uint64 { return 0 }
func (s *changeSignal) bump() uint64 { return 0 }
func (s *changeSignal) close() error { return nil }
