package keyauth_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// benchKeys is the size of the index the benchmarks check against.
const benchKeys = 100_000

// benchIndex stores n keys straight into a new database and returns an
// Authenticator loaded with them, and their tokens. CreateKey, one
// transaction a key, would take minutes: this inserts every row in one
// transaction, in hash order and with ids in the same order, so that the
// indexes grow at their ends instead of splitting pages at random.
func benchIndex(b *testing.B, n int) (*keyauth.Authenticator, []string) {
	b.Helper()
	a, tokens, _ := benchIndexStore(b, n)
	return a, tokens
}

// benchIndexStore is benchIndex, returning the database too.
func benchIndexStore(b *testing.B, n int) (*keyauth.Authenticator, []string, *db.DB) {
	b.Helper()
	ctx := context.Background()
	f := newFixture(b)
	scopes, err := apikey.ParseScopes([]string{"mcp:write", "data:read"})
	if err != nil {
		b.Fatal(err)
	}
	type row struct {
		token string
		hash  apikey.Hash
	}
	rows := make([]row, n)
	for i := range rows {
		token, err := apikey.Generate()
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = row{token, apikey.HashOf(token)}
	}
	slices.SortFunc(rows, func(x, y row) int { return bytes.Compare(x.hash[:], y.hash[:]) })

	raw := f.store.SQL()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, created_at, created_by, create_token)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	tokens := make([]string, n)
	for i, r := range rows {
		id := fmt.Sprintf("key_%020d", i)
		if _, err := stmt.ExecContext(ctx, id, f.ws.ID, "bench key", r.token[:apikey.PrefixLen], r.hash[:], scopes.String(),
			start.UnixMilli(), f.user.ID, id); err != nil {
			b.Fatal(err)
		}
		tokens[i] = r.token
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	a := newAuth(b, f.store, keyauth.Config{})
	if got := a.Len(); got != n {
		b.Fatalf("index holds %d keys, want %d", got, n)
	}
	// The tokens in hash order are in random order: shuffle them anyway,
	// so that nothing depends on it.
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(tokens), func(i, j int) { tokens[i], tokens[j] = tokens[j], tokens[i] })
	return a, tokens, f.store
}

// BenchmarkAuthenticateValid checks one valid key again and again, from
// one address: the common case of a busy client.
func BenchmarkAuthenticateValid(b *testing.B) {
	a, tokens := benchIndex(b, benchKeys)
	ctx := context.Background()
	token := tokens[len(tokens)/2]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// drawn returns a fixed pseudo-random sequence of indexes below n, so that
// the loop picks keys without calling a random generator.
func drawn(n int) []int {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]int, 1<<16)
	for i := range out {
		out[i] = r.IntN(n)
	}
	return out
}

// BenchmarkAuthenticateRandom10k checks keys drawn at random from 10,000
// of the index's keys, so that lookups miss the CPU caches.
func BenchmarkAuthenticateRandom10k(b *testing.B) {
	a, tokens := benchIndex(b, benchKeys)
	ctx := context.Background()
	tokens = tokens[:10_000]
	order := drawn(len(tokens))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tokens[order[i&(len(order)-1)]], "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAuthenticateMalformed checks a token of the right shape whose
// checksum does not match: refused before hashing, but after the CRC.
func BenchmarkAuthenticateMalformed(b *testing.B) {
	a, tokens := benchIndex(b, benchKeys)
	ctx := context.Background()
	token := badChecksum(tokens[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err == nil {
			b.Fatal("malformed key accepted")
		}
	}
}

// BenchmarkAuthenticateUnknown checks a well-formed key, checksum
// included, that is not in the index: parse, hash, miss.
func BenchmarkAuthenticateUnknown(b *testing.B) {
	a, _ := benchIndex(b, benchKeys)
	ctx := context.Background()
	token := unknownToken(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err == nil {
			b.Fatal("unknown key accepted")
		}
	}
}

// BenchmarkAuthenticateParallel checks keys drawn from 10,000 valid ones
// on every core at once, all from one address (say, a gateway). The
// parallel loop is a sub-benchmark so that the index is built once, not
// once per round of b.N.
func BenchmarkAuthenticateParallel(b *testing.B) {
	a, tokens := benchIndex(b, benchKeys)
	ctx := context.Background()
	tokens = tokens[:10_000]
	order := drawn(len(tokens))
	b.Run("random10k", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(order))
			for pb.Next() {
				if _, err := a.Authenticate(ctx, tokens[order[i&(len(order)-1)]], "192.0.2.1"); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkFlush10k writes the last use of 10,000 keys of a 100,000-key
// index, as a server under load from many keys does every flush interval.
// Each round uses the keys from a new address, so that every one of them
// is due for writing.
func BenchmarkFlush10k(b *testing.B) {
	a, tokens := benchIndex(b, benchKeys)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		ip := fmt.Sprintf("198.51.100.%d", i%250)
		for k := range 10_000 {
			if _, err := a.Authenticate(ctx, tokens[k], ip); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := a.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateAllowlist50 checks one valid key whose allowlist
// holds 50 networks, from an address in the last of them (every network
// compared), with usage counted: the hot path with all its checks.
func BenchmarkAuthenticateAllowlist50(b *testing.B) {
	_, tokens, store := benchIndexStore(b, 10_000)
	ctx := context.Background()
	token := tokens[len(tokens)/2]
	var list []string
	for i := range 49 {
		list = append(list, fmt.Sprintf("10.%d.0.0/16", i))
	}
	list = append(list, "192.0.2.0/24")
	allow, err := apikey.ParseAllowlist(strings.Join(list, ","))
	if err != nil {
		b.Fatal(err)
	}
	h := apikey.HashOf(token)
	if _, err := store.SQL().ExecContext(ctx, `UPDATE api_keys SET allowlist = $1 WHERE hash = $2`, apikey.FormatAllowlist(allow), h[:]); err != nil {
		b.Fatal(err)
	}
	a := newAuth(b, store, keyauth.Config{}) // loads the allowlist
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, token, "192.0.3.1"); err != keyauth.ErrIPNotAllowed {
		b.Fatalf("outside the allowlist: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateRefusedAddress checks a valid key from an address
// its allowlist refuses: counted, and recorded as its last refused call
// (not as a use), without an allocation.
func BenchmarkAuthenticateRefusedAddress(b *testing.B) {
	_, tokens, store := benchIndexStore(b, 10_000)
	ctx := context.Background()
	token := tokens[len(tokens)/2]
	allow, err := apikey.ParseAllowlist("192.0.2.0/24")
	if err != nil {
		b.Fatal(err)
	}
	h := apikey.HashOf(token)
	if _, err := store.SQL().ExecContext(ctx, `UPDATE api_keys SET allowlist = $1 WHERE hash = $2`, apikey.FormatAllowlist(allow), h[:]); err != nil {
		b.Fatal(err)
	}
	a := newAuth(b, store, keyauth.Config{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token, "198.51.100.7"); err != keyauth.ErrIPNotAllowed {
			b.Fatal(err)
		}
	}
}
