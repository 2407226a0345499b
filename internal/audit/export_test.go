package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sample() []Event {
	at := time.Date(2026, 3, 10, 12, 0, 0, 123_000_000, time.UTC)
	return []Event{
		{ID: 3, WorkspaceID: 1, At: at, Action: KeyEdited, Actor: Actor{Email: "=cmd|' /C calc'!A0", Kind: User, IP: "192.0.2.1"},
			KeyID: "key_a", KeyPrefix: "blnk_0000aaaa", Details: map[string]any{"before": map[string]any{"name": "a,\"b\"\nc"}}},
		{ID: 2, WorkspaceID: 2, At: at, Action: KeyExpired, Actor: Actor{Kind: System}, RawDetails: json.RawMessage(`{"expired_at":"2026-03-10T00:00:00Z"}`)},
		{ID: 1, At: at, Action: UserSignInFailed, Actor: Actor{Kind: User, IP: "-1+1"}},
	}
}

func TestCSVExport(t *testing.T) {
	for _, ws := range []bool{false, true} {
		var b bytes.Buffer
		ex, err := NewExporter("csv", &b, ws)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range sample() {
			if err := ex.Write(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := ex.Close(); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		off := 0
		if ws {
			off = 1
			if recs[0][0] != "workspace_id" || recs[1][0] != "1" || recs[3][0] != "0" {
				t.Errorf("workspace column: %q", recs)
			}
		}
		if len(recs) != 4 || strings.Join(recs[0][off:], ",") != strings.Join(CSVHeader, ",") {
			t.Fatalf("records: %q", recs)
		}
		first := recs[1][off:]
		if first[0] != "3" || first[1] != "2026-03-10T12:00:00.123Z" || first[2] != "key.edited" || first[3] != "'=cmd|' /C calc'!A0" {
			t.Errorf("first row: %q", first)
		}
		var d map[string]map[string]string
		if err := json.Unmarshal([]byte(first[8]), &d); err != nil || d["before"]["name"] != "a,\"b\"\nc" {
			t.Errorf("details %q: %v", first[8], err)
		}
		if recs[2][off+3] != "system" || recs[2][off+8] != `{"expired_at":"2026-03-10T00:00:00Z"}` {
			t.Errorf("second row: %q", recs[2])
		}
		if recs[3][off+5] != "'-1+1" {
			t.Errorf("a cell starting with - is not defused: %q", recs[3][off+5])
		}
	}
}

func TestJSONExport(t *testing.T) {
	var b bytes.Buffer
	ex, _ := NewExporter("json", &b, true)
	for _, ev := range sample() {
		ex.Write(ev)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		ID          int64          `json:"id"`
		WorkspaceID *int64         `json:"workspace_id"`
		Time        time.Time      `json:"time"`
		Action      string         `json:"action"`
		Actor       string         `json:"actor"`
		Details     map[string]any `json:"details"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, b.String())
	}
	if len(got) != 3 || got[0].ID != 3 || *got[0].WorkspaceID != 1 || got[0].Actor != "=cmd|' /C calc'!A0" ||
		got[1].Actor != "system" || got[1].Details["expired_at"] != "2026-03-10T00:00:00Z" || !got[2].Time.Equal(sample()[2].At) {
		t.Errorf("events: %+v", got)
	}
	var empty bytes.Buffer
	ex, _ = NewExporter("json", &empty, false)
	ex.Close()
	if strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("empty export: %q", empty.String())
	}
	if _, err := NewExporter("xml", &empty, false); err == nil {
		t.Error("xml export")
	}
}
