//go:build unix

package db

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// changeSignal is a counter in a small file that every process using the
// same database maps into memory (MAP_SHARED). A process bumps it after it
// commits a key change; the others compare it with the value they last
// saw before each check, for the cost of one atomic load. SQLite databases
// are only ever shared by processes of one machine, so all of them can map
// the file.
type changeSignal struct {
	mem []byte
	ctr *atomic.Uint64
}

const signalSize = 4096

func openSignal(path string) (*changeSignal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < signalSize {
		// Growing a file fills it with zeros; a counter already there
		// (a file of the right size) is kept.
		if err := f.Truncate(signalSize); err != nil {
			return nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, signalSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	// mmap returns page-aligned memory, so the counter is 8-byte aligned.
	return &changeSignal{mem: mem, ctr: (*atomic.Uint64)(unsafe.Pointer(&mem[0]))}, nil
}

func (s *changeSignal) load() uint64 { return s.ctr.Load() }
func (s *changeSignal) bump() uint64 { return s.ctr.Add(1) }
func (s *changeSignal) close() error { return syscall.Munmap(s.mem) }
