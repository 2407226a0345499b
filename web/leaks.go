package web

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/keys"
)

// leakReportLimit bounds a leak report's body: a hundred items of a
// token, a URL and a source fit with room to spare.
const leakReportLimit = 256 << 10

// leakItem is one item of a leak report, in the shape of GitHub's
// credential revocation API (other fields, such as type, are ignored).
type leakItem struct {
	Token  *string `json:"token"`
	URL    string  `json:"url"`
	Source string  `json:"source"`
}

// leakReceived is the answer to every report that could be read: the same
// whether or not any token was a key, so that the endpoint tells nothing.
type leakReceived struct {
	Status string `json:"status"`
	Items  int    `json:"items"`
}

// leakReport is POST /api/v1/keys/leaked: anyone who finds a key where it
// should not be (a secret scanner, a person) reports it, unauthenticated,
// as a JSON array of {token, url, source}, up to 100 items. Every listed
// token that is a key is revoked at once, through the keys service, before
// the answer, and marked exposed. The answer is 202 and the same body
// whatever the tokens were; 400 for a body that is not such an array, 413
// for one over the size limit, 429 for an address that reports too often.
func (s *Server) leakReport(c echo.Context) error {
	ip, now := c.RealIP(), s.cfg.Now()
	if wait := s.leakLimit.WaitAt(ip, now); wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return apiError(http.StatusTooManyRequests, "rate_limited", "Too many leak reports from this address. Try again later.")
	}
	s.leakLimit.FailAt(ip, now) // every report counts, whatever it holds
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, leakReportLimit)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return apiError(http.StatusRequestEntityTooLarge, "too_large", "A leak report may be at most 256 KiB.")
		}
		return apiError(http.StatusBadRequest, "invalid_json", "The body could not be read.")
	}
	if !utf8.Valid(body) || loneSurrogate(body) {
		return apiError(http.StatusBadRequest, "invalid_text", "The report must be valid UTF-8 text, without NUL characters.")
	}
	var items []leakItem
	if err := json.Unmarshal(body, &items); err != nil || items == nil {
		return apiError(http.StatusBadRequest, "invalid_json",
			`Send a JSON array of {"token": "...", "url": "...", "source": "..."} objects.`)
	}
	if len(items) > keys.MaxLeakReports {
		return apiError(http.StatusBadRequest, "too_many_items", "Send at most 100 items in one report.")
	}
	reports := make([]keys.LeakReport, 0, len(items))
	for _, it := range items {
		if it.Token == nil {
			return apiError(http.StatusBadRequest, "invalid_json", `Every item needs a "token" string.`)
		}
		if badText(*it.Token) || badText(it.URL) || badText(it.Source) {
			return apiError(http.StatusBadRequest, "invalid_text", "The report must be valid UTF-8 text, without NUL characters.")
		}
		reports = append(reports, keys.LeakReport{Token: *it.Token, URL: it.URL, Source: it.Source})
	}
	by := audit.Actor{Kind: audit.LeakReport, IP: ip, Request: requestIDOf(c)}
	if _, err := s.keys.ReportLeaks(r.Context(), by, reports); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, leakReceived{Status: "received", Items: len(items)})
}

// loneSurrogate reports whether JSON text escapes half of a UTF-16
// surrogate pair ("\ud800" alone), which is no character: encoding/json
// turns it into U+FFFD without a word, so that the check for invalid
// text must look at the escapes.
func loneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) {
			break
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, such as \\ (which is not an escape of u)
			continue
		}
		r, ok := hex4(b[i+2:])
		if !ok {
			continue // not valid JSON: Unmarshal says so
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low half first
		case r >= 0xD800 && r <= 0xDBFF:
			if len(b) < i+12 || b[i+6] != '\\' || b[i+7] != 'u' {
				return true
			}
			if lo, ok := hex4(b[i+8:]); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// hex4 reads the 4 hexadecimal digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
