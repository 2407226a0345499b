package views

import (
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// NavSessions is Page.Nav for the sessions page (in no sidebar entry).
const NavSessions = "sessions"

// SessionsPath is the page of the person's sessions.
const SessionsPath = "/settings/security/sessions"

// SessionRevokeURL signs out one session; SessionsRevokeOthersURL all
// but the asking one.
func SessionRevokeURL(id string) string { return SessionsPath + "/" + id + "/revoke" }

// SessionsRevokeOthersURL signs out every session but the current one.
const SessionsRevokeOthersURL = SessionsPath + "/revoke-others"

// Sessions is the list of the person's sessions.
type Sessions struct {
	Sessions []blnk.SessionInfo
	Now      time.Time
	// Back is where the sign-out forms return to (the page that shows
	// the list): SessionsPath, or /settings/security once embedded there.
	Back string
}

// others counts the sessions that are not the current one.
func (s Sessions) others() int {
	n := 0
	for _, x := range s.Sessions {
		if !x.Current {
			n++
		}
	}
	return n
}

// Device names a session's browser and system, read from its user
// agent: "Firefox on Linux", "Safari on iPhone", "Unknown browser".
func Device(ua string) string {
	b, os := browserOf(ua), systemOf(ua)
	switch {
	case b == "" && os == "":
		return "Unknown browser"
	case b == "":
		return "A browser on " + os
	case os == "":
		return b
	}
	return b + " on " + os
}

// browserOf reads the browser's name from a user agent. The order
// matters: Edge and Opera say Chrome too, Chrome says Safari too.
func browserOf(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go program"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return ""
}

// systemOf reads the operating system from a user agent.
func systemOf(ua string) string {
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return o.name
		}
	}
	return ""
}
