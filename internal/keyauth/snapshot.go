// Snapshots: the index saved to a file, so that a restart reads the keys
// changed since instead of every key (issue 21).

package keyauth

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// A snapshot file holds, little-endian:
//
//	magic "BLNKIDX1"
//	header (snapHeader): the change it includes (seq and its key's id),
//	  the counts of each part below
//	workspaces: id (8), name length (2), name
//	text chunks: length (4) each, then their bytes
//	entries: entryBytes each (encodeEntry)
//	byHash cells, byID cells: 8 bytes each
//	allowlists: allowChunk networks of prefixBytes per chunk
//	CRC-32C (Castagnoli) of everything before it (4)
//
// It is a cache of the database, never a source: a server loads it only
// if its CRC holds, the database's change log still holds the change it
// names (with the same key: the same database, not restored from an
// older copy), and, once the changes since are applied, the key count is
// the database's. Otherwise the server loads every key, as without one.
// A revoked key cannot come back from a snapshot: a revocation is a
// change, so one made after the snapshot was written is among the changes
// read at start, and the index never undoes a revocation.
const snapMagic = "BLNKIDX1"

type snapHeader struct {
	Version                uint32
	EntryChunk, TextChunk  uint32
	AllowChunk, EntryBytes uint32
	Seq                    int64
	SeqKey                 [idLen]byte
	Keys                   int64
	Entries, Texts         uint32
	AllowChunks, AllowN    uint32
	Workspaces             uint32
	HashCells, HashN       uint64
	IDCells, IDN           uint64
}

const (
	snapVersion = 1
	entryBytes  = 32 + 8*3 + 4*4 + 2*2 + 2 // encodeEntry
	prefixBytes = 18
	snapBlock   = 4096 // entries or cells encoded at a time
)

// ErrSnapshot: the snapshot file cannot be used (corrupt, of another
// version, of another database, or its change no longer in the log).
var ErrSnapshot = errors.New("keyauth: unusable key snapshot")

// crcWriter and crcReader count the CRC of what passes.
type crcWriter struct {
	w io.Writer
	h hash.Hash32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	return c.w.Write(p)
}

type crcReader struct {
	r io.Reader
	h hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	return n, err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeEntry writes e's fields to b (entryBytes): use records are not
// saved, a revocation is.
func encodeEntry(b []byte, e *entry) {
	copy(b, e.hash[:])
	le := binary.LittleEndian
	le.PutUint64(b[32:], uint64(e.createdAt))
	le.PutUint64(b[40:], uint64(e.expiresAt))
	le.PutUint64(b[48:], uint64(e.revokedAt.Load()))
	le.PutUint32(b[56:], e.textChunk)
	le.PutUint32(b[60:], e.textOff)
	le.PutUint32(b[64:], e.ws)
	le.PutUint32(b[68:], e.allowOff)
	le.PutUint16(b[72:], e.nameLen)
	le.PutUint16(b[74:], uint16(e.scopes))
	b[76] = e.allowN
	b[77] = 0
	if e.rolled {
		b[77] = 1
	}
}

func decodeEntry(b []byte, e *entry) {
	copy(e.hash[:], b)
	le := binary.LittleEndian
	e.createdAt = int64(le.Uint64(b[32:]))
	e.expiresAt = int64(le.Uint64(b[40:]))
	e.revokedAt.Store(int64(le.Uint64(b[48:])))
	e.textChunk = le.Uint32(b[56:])
	e.textOff = le.Uint32(b[60:])
	e.ws = le.Uint32(b[64:])
	e.allowOff = le.Uint32(b[68:])
	e.nameLen = le.Uint16(b[72:])
	e.scopes = apikey.Set(le.Uint16(b[74:]))
	e.allowN = b[76]
	e.rolled = b[77] == 1
}

// WriteSnapshot saves the index to path (through a file beside it,
// renamed into place), with the last change it has applied. Checks go on
// meanwhile; a change applied meanwhile may be saved or not, and is read
// again at the next start either way.
func (a *Authenticator) WriteSnapshot(ctx context.Context, path string) error {
	a.syncMu.Lock()
	seq := a.seq
	a.syncMu.Unlock()
	// What the index held after change seq, or more (a change applied
	// after it, by this process or a sync, is read again at start).
	var seqKey [idLen]byte
	if seq > 0 {
		id, err := a.store.KeyChange(ctx, seq)
		if err != nil {
			return fmt.Errorf("snapshot: read change %d: %w", seq, err)
		}
		if len(id) != idLen {
			return fmt.Errorf("snapshot: change %d not in the log", seq)
		}
		copy(seqKey[:], id)
	}

	a.mu.RLock()
	x := a.idx
	h := snapHeader{
		Version: snapVersion, EntryChunk: entryChunk, TextChunk: textChunk, AllowChunk: allowChunk, EntryBytes: entryBytes,
		Seq: seq, SeqKey: seqKey, Keys: int64(x.keys), Entries: x.n, Texts: uint32(len(x.text)),
		AllowChunks: uint32(len(x.allow)), AllowN: x.allowN, Workspaces: uint32(len(x.workspaces)),
	}
	entries := slices.Clone(x.entries)
	texts := make([][]byte, len(x.text))
	for i, t := range x.text {
		texts[i] = t[:len(t):len(t)]
	}
	allow := slices.Clone(x.allow)
	workspaces := slices.Clone(x.workspaces)
	a.mu.RUnlock()

	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp) // after the rename, nothing
	defer f.Close()
	cw := &crcWriter{w: f, h: crc32.New(castagnoli)}
	w := bufio.NewWriterSize(cw, 1<<20)
	le := binary.LittleEndian
	w.WriteString(snapMagic)
	// The tables last, under the lock: they change in place.
	a.mu.RLock()
	h.HashCells, h.HashN = uint64(len(x.byHash.cells)), uint64(x.byHash.n)
	h.IDCells, h.IDN = uint64(len(x.byID.cells)), uint64(x.byID.n)
	h.Keys = int64(x.keys)
	a.mu.RUnlock()
	// The tables may grow before they are written: the header's sizes are
	// those written (see below); write the header after taking them.
	if err := binary.Write(w, le, &h); err != nil {
		return err
	}
	var buf [entryBytes]byte
	for _, ws := range workspaces {
		w.Write(le.AppendUint64(buf[:0], uint64(ws.id)))
		w.Write(le.AppendUint16(buf[:0], uint16(len(ws.name))))
		w.WriteString(ws.name)
	}
	for _, t := range texts {
		w.Write(le.AppendUint32(buf[:0], uint32(len(t))))
	}
	for _, t := range texts {
		w.Write(t)
	}
	block := make([]byte, 0, snapBlock*entryBytes)
	for i := range h.Entries {
		block = block[:len(block)+entryBytes]
		encodeEntry(block[len(block)-entryBytes:], &entries[i/entryChunk][i%entryChunk])
		if len(block) == cap(block) || i == h.Entries-1 {
			w.Write(block)
			block = block[:0]
		}
	}
	a.mu.RLock()
	ok := uint64(len(x.byHash.cells)) == h.HashCells && uint64(len(x.byID.cells)) == h.IDCells &&
		int64(x.keys) == h.Keys && x.n == h.Entries
	if ok {
		for _, t := range []*slotTable{&x.byHash, &x.byID} {
			for part := range slices.Chunk(t.cells, snapBlock) {
				block = block[:0]
				for _, c := range part {
					block = le.AppendUint64(block, c)
				}
				w.Write(block)
			}
		}
	}
	a.mu.RUnlock()
	if !ok {
		return errors.New("snapshot: keys changed while it was written; next time")
	}
	var pb [prefixBytes]byte
	for _, chunk := range allow {
		for _, p := range chunk {
			encodePrefix(pb[:], p)
			w.Write(pb[:])
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if _, err := f.Write(le.AppendUint32(nil, cw.h.Sum32())); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func encodePrefix(b []byte, p netip.Prefix) {
	clear(b)
	if !p.IsValid() {
		return
	}
	a := p.Addr()
	if a.Is4() {
		b[0] = 4
	} else {
		b[0] = 6
	}
	b[1] = byte(p.Bits())
	a16 := a.As16()
	copy(b[2:], a16[:])
}

func decodePrefix(b []byte) (netip.Prefix, error) {
	switch b[0] {
	case 0:
		return netip.Prefix{}, nil
	case 4:
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(b[2:18])).Unmap(), int(b[1])), nil
	case 6:
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(b[2:18])), int(b[1])), nil
	}
	return netip.Prefix{}, fmt.Errorf("%w: network of kind %d", ErrSnapshot, b[0])
}

// readSnapshot reads the index saved at path, checking its CRC, and
// returns it with the change it includes (seq, and that change's key).
func readSnapshot(path string) (x *index, seq int64, seqKey string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, "", err
	}
	size := st.Size()
	if size < int64(len(snapMagic))+4 {
		return nil, 0, "", fmt.Errorf("%w: %d bytes", ErrSnapshot, size)
	}
	cr := &crcReader{r: io.LimitReader(f, size-4), h: crc32.New(castagnoli)}
	r := bufio.NewReaderSize(cr, 1<<20)
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(what, args...))
	}
	var magic [len(snapMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != snapMagic {
		return nil, 0, "", bad("not a snapshot")
	}
	var h snapHeader
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, 0, "", bad("header: %v", err)
	}
	if h.Version != snapVersion || h.EntryChunk != entryChunk || h.TextChunk != textChunk || h.AllowChunk != allowChunk || h.EntryBytes != entryBytes {
		return nil, 0, "", bad("version %d of another layout", h.Version)
	}
	// Sizes that the file cannot hold are refused before anything is
	// allocated for them.
	need := int64(h.Workspaces)*10 + int64(h.Texts)*4 + int64(h.Entries)*entryBytes +
		int64(h.HashCells+h.IDCells)*8 + int64(h.AllowChunks)*allowChunk*prefixBytes
	if h.HashCells > 1<<40 || h.IDCells > 1<<40 || need > size || h.Keys < 0 || uint64(h.AllowN) > uint64(h.AllowChunks)*allowChunk ||
		h.HashCells&(h.HashCells-1) != 0 || h.IDCells&(h.IDCells-1) != 0 || h.HashN > h.HashCells || h.IDN > h.IDCells {
		return nil, 0, "", bad("sizes beyond the file")
	}
	le := binary.LittleEndian
	x = newIndex()
	var buf [entryBytes]byte
	for range h.Workspaces {
		if _, err := io.ReadFull(r, buf[:10]); err != nil {
			return nil, 0, "", bad("workspaces: %v", err)
		}
		name := make([]byte, le.Uint16(buf[8:]))
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, 0, "", bad("workspaces: %v", err)
		}
		id := int64(le.Uint64(buf[:]))
		x.wsByID[id] = uint32(len(x.workspaces))
		x.workspaces = append(x.workspaces, workspace{id: id, name: string(name)})
	}
	lens := make([]uint32, h.Texts)
	for i := range lens {
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return nil, 0, "", bad("text: %v", err)
		}
		if lens[i] = le.Uint32(buf[:]); lens[i] > max(textChunk, 1<<20) {
			return nil, 0, "", bad("text chunk of %d bytes", lens[i])
		}
	}
	for _, n := range lens {
		t := make([]byte, n, max(textChunk, int(n)))
		if _, err := io.ReadFull(r, t); err != nil {
			return nil, 0, "", bad("text: %v", err)
		}
		x.text = append(x.text, t)
	}
	block := make([]byte, snapBlock*entryBytes)
	var in []byte // what is left of block
	for i := range h.Entries {
		if i%entryChunk == 0 {
			x.entries = append(x.entries, new([entryChunk]entry))
		}
		if len(in) == 0 {
			in = block[:min(len(block), int(h.Entries-i)*entryBytes)]
			if _, err := io.ReadFull(r, in); err != nil {
				return nil, 0, "", bad("entries: %v", err)
			}
		}
		e := &x.entries[i/entryChunk][i%entryChunk]
		decodeEntry(in[:entryBytes], e)
		in = in[entryBytes:]
		if int(e.textChunk) >= len(x.text) || int(e.textOff)+idLen+apikey.PrefixLen+int(e.nameLen) > len(x.text[e.textChunk]) ||
			int(e.ws) >= len(x.workspaces) || (e.allowN > 0 && (e.allowOff+uint32(e.allowN) > h.AllowN ||
			e.allowOff/allowChunk != (e.allowOff+uint32(e.allowN)-1)/allowChunk)) ||
			(e.rolled && int(e.textOff)+2*(idLen+apikey.PrefixLen)+int(e.nameLen) > len(x.text[e.textChunk])) {
			return nil, 0, "", bad("entry %d out of bounds", i)
		}
	}
	x.n = h.Entries
	for _, t := range []struct {
		t     *slotTable
		cells uint64
		n     uint64
	}{{&x.byHash, h.HashCells, h.HashN}, {&x.byID, h.IDCells, h.IDN}} {
		t.t.cells = make([]uint64, t.cells)
		for part := range slices.Chunk(t.t.cells, len(block)/8) {
			in := block[:8*len(part)]
			if _, err := io.ReadFull(r, in); err != nil {
				return nil, 0, "", bad("tables: %v", err)
			}
			for i := range part {
				c := le.Uint64(in[8*i:])
				if c != 0 && cellSlot(c) >= x.n {
					return nil, 0, "", bad("table cell beyond the entries")
				}
				part[i] = c
			}
		}
		t.t.n = int(t.n)
	}
	x.keys = int(h.Keys)
	var pb [prefixBytes]byte
	for range h.AllowChunks {
		chunk := new([allowChunk]netip.Prefix)
		for j := range chunk {
			if _, err := io.ReadFull(r, pb[:]); err != nil {
				return nil, 0, "", bad("allowlists: %v", err)
			}
			if chunk[j], err = decodePrefix(pb[:]); err != nil {
				return nil, 0, "", err
			}
		}
		x.allow = append(x.allow, chunk)
	}
	x.allowN = h.AllowN
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, 0, "", bad("bytes after the end")
	}
	sum := cr.h.Sum32()
	if _, err := io.ReadFull(f, buf[:4]); err != nil || le.Uint32(buf[:]) != sum {
		return nil, 0, "", bad("checksum mismatch")
	}
	if h.Seq > 0 {
		seqKey = string(h.SeqKey[:])
	}
	return x, h.Seq, seqKey, nil
}

// loadSnapshot brings the Authenticator's index from the snapshot at
// path up to date with the database, reading only the keys changed since
// it was written. It returns why it could not (the caller then loads
// every key into a fresh index).
func (a *Authenticator) loadSnapshot(ctx context.Context, path string) error {
	x, seq, seqKey, err := readSnapshot(path)
	if err != nil {
		return err
	}
	r, err := a.store.ResumeKeys(ctx, seq, seqKey)
	if err != nil {
		return err
	}
	if !r.Found {
		return fmt.Errorf("%w: change %d is not in this database's log", ErrSnapshot, seq)
	}
	a.idx = x
	for _, k := range r.Changed {
		a.put(k)
	}
	if a.idx.keys != r.Keys {
		a.idx = newIndex()
		return fmt.Errorf("%w: %d keys after the changes since, the database has %d", ErrSnapshot, x.keys, r.Keys)
	}
	a.seq = r.Last
	a.appliedSeq.Store(r.Last)
	a.fromSnapshot = len(r.Changed) + 1
	return nil
}
