package main

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/webhook"
)

func TestVerifyStandardWebhooksVector(t *testing.T) {
	// The reference libraries' test vector (standard-webhooks/standard-webhooks,
	// libraries/go/webhook_test.go, TestWebhookSign).
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	secret, body := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []byte(`{"test": 2432232314}`)
	at := time.Unix(1614265330, 0)
	if !verify(secret, h, body, at.Add(time.Minute)) {
		t.Error("the published vector does not verify")
	}
	if verify(secret, h, body, at.Add(6*time.Minute)) {
		t.Error("a signature 6 minutes old verifies")
	}
	if verify(secret, h, append(body, ' '), at) {
		t.Error("another body verifies")
	}
	h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if !verify(secret, h, body, at) {
		t.Error("one good signature of two does not verify")
	}
}

func TestVerifiesTheDashboardsSignatures(t *testing.T) {
	secret, now := webhook.NewSecret(), time.Now()
	body := []byte(`{"type":"webhook.test"}`)
	sig, err := webhook.Sign(secret, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	if !verify(secret, h, body, now) {
		t.Error("a signature of the dashboard does not verify")
	}
	if verify(webhook.NewSecret(), h, body, now) {
		t.Error("another secret verifies")
	}
}

// TestREADMEShowsThisFile keeps the receiver this directory's README
// shows equal to this command.
func TestREADMEShowsThisFile(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(src)+"```\n") {
		t.Error("cmd/webhook-receiver/README.md does not show main.go as it is: copy the file into its ```go block")
	}
}
