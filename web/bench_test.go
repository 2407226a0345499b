package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/web"
)

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the server's work and not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkHandlers compares, through the whole middleware stack, the
// bare /healthz handler with /api/v1/verify: what verify costs on top of
// a request that does nothing.
func BenchmarkHandlers(b *testing.B) {
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	auth, err := keyauth.New(ctx, keyauth.Config{}, store, log)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{SessionSecret: make([]byte, 32), Passwords: password.FastHasher}, store, auth, keys.New(keys.Config{}, store, auth, log), log)
	if err != nil {
		b.Fatal(err)
	}
	ws, u, err := store.CreateWorkspaceAdmin(ctx, "Bench", "bench@example.com", "x", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	token, _ := apikey.Generate()
	prefix, _ := apikey.Parse(token)
	k, _, err := store.CreateKey(ctx, blnk.NewKey{
		Key:  apikey.Key{ID: apikey.NewID(), WorkspaceID: ws.ID, Name: "bench", Prefix: prefix, Scopes: must(apikey.ParseScopes([]string{"mcp:read"})), CreatedAt: time.Now()},
		Hash: apikey.HashOf(token), CreatedBy: u.ID, CreateToken: "bench",
	})
	if err != nil {
		b.Fatal(err)
	}
	auth.Put(blnk.Record{Hash: apikey.HashOf(token), Key: k, WorkspaceName: ws.Name})

	for _, bc := range []struct{ name, target, key string }{
		{"healthz", "/healthz", ""},
		{"verify", "/api/v1/verify?scope=mcp:read", token},
		{"verify-malformed", "/api/v1/verify?scope=mcp:read", "blnk_nope"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, bc.target, nil)
			req.RemoteAddr = "127.0.0.1:5000"
			if bc.key != "" {
				req.Header.Set("Authorization", "Bearer "+bc.key)
			}
			b.ReportAllocs()
			for b.Loop() {
				srv.ServeHTTP(&discard{h: make(http.Header)}, req)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
