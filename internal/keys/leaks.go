package keys

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// LeakReport is one item of a leak report: a token someone found where it
// should not be (the shape of GitHub's credential revocation API).
type LeakReport struct {
	Token  string
	URL    string // where it was found
	Source string // what found it
}

// MaxLeakReports is the most items one report may carry.
const MaxLeakReports = 100

// Limits of the reporter's text that is kept.
const (
	maxLeakURL    = 2000
	maxLeakSource = 200
)

// LeakOutcome is what ReportLeaks did, for the log and the tests: the
// reporter is told none of it.
type LeakOutcome struct {
	Revoked  int // keys revoked by this report
	Recorded int // keys marked exposed for the first time
	Ignored  int // malformed tokens, unknown keys, keys reported before, repeats
	// Confirmation of the revocations, when there were any.
	Confirmation apikey.Confirmation
}

// ReportLeaks handles a leak report from by (audit.LeakReport, with the
// reporter's address): every listed token that is a key is revoked at
// once, with the same exactness as any revoke (this process refuses it
// before ReportLeaks returns, and the live servers are waited for), and
// marked exposed where and by what it was found, which the audit log and
// the key.leaked webhook say. Malformed and unknown tokens are ignored,
// and cost no database read for the malformed ones. An error is returned
// only when the database fails; the keys handled before stay handled.
func (s *Service) ReportLeaks(ctx context.Context, by audit.Actor, reports []LeakReport) (LeakOutcome, error) {
	if len(reports) > MaxLeakReports {
		return LeakOutcome{}, errors.New("keys: too many leak reports in one") // the handler refuses these
	}
	var out LeakOutcome
	var revoked []apikey.Key
	var last int64
	var committed time.Time
	seen := map[apikey.Hash]bool{}
	now := s.cfg.Now()
	var dbErr error
	for _, r := range reports {
		token := strings.TrimSpace(r.Token)
		if _, err := apikey.Parse(token); err != nil {
			out.Ignored++
			continue
		}
		h := apikey.HashOf(token)
		if seen[h] {
			out.Ignored++
			continue
		}
		seen[h] = true
		l, err := s.store.ReportLeak(ctx, h, apikey.Exposure{At: now, URL: reportText(r.URL, maxLeakURL), Source: reportText(r.Source, maxLeakSource)}, by)
		if errors.Is(err, blnk.ErrNotFound) {
			out.Ignored++
			continue
		}
		if err != nil {
			dbErr = err
			break
		}
		if l.Revoked {
			out.Revoked++
			revoked = append(revoked, l.Key)
			last, committed = l.Seq, time.Now()
		}
		if l.Recorded {
			out.Recorded++
		}
		if !l.Revoked && !l.Recorded {
			out.Ignored++
		}
		s.log.Warn("api key reported leaked", "key_id", l.Key.ID, "prefix", l.Key.Prefix, "workspace_id", l.Key.WorkspaceID,
			"revoked", l.Revoked, "first_report", l.Recorded, "reporter_ip", by.IP, "request_id", by.Request)
	}
	if len(revoked) > 0 {
		out.Confirmation = s.revoked(ctx, revoked, last, committed)
	}
	return out, dbErr
}

// reportText keeps at most n bytes of a reporter's text, as one line of
// valid UTF-8 without control characters, and without a key: the audit
// log, the key's panel and the key.leaked webhook show it, and none of
// them may hold a key. A whole key becomes its prefix and "…"
// (apikey.RedactTokens); a part of one long enough to matter, its prefix
// and "[redacted]" (apikey.Redact).
func reportText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = apikey.Redact(apikey.RedactTokens(s))
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
