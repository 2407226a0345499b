// Command webhook-receiver is a minimal receiver of the dashboard's
// webhooks: it checks each request's signature (Standard Webhooks) and
// prints the event. The README shows this file; copy it as a start.
//
//	BLNK_WEBHOOK_SECRET=whsec_… go run ./cmd/webhook-receiver -listen 127.0.0.1:9000
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// verify checks a Standard Webhooks signature: the HMAC-SHA256, keyed with
// the base64 after "whsec_", of "webhook-id.webhook-timestamp.body", sent
// as "v1,<base64>" (several, space-separated, while a secret is rotated).
// A timestamp more than 5 minutes from now is refused: a replay.
func verify(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return false
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("BLNK_WEBHOOK_SECRET") // whsec_…, shown once when the endpoint was added
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !verify(secret, r.Header, body, time.Now()) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// A delivery is retried until it is answered 2xx, so the same
		// event (webhook-id) may come twice: remember the ids handled.
		log.Printf("%s %s", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Printf("listening on http://%s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
