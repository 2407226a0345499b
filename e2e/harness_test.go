// Browser tests: the real dashboard binary, started per test on a free
// port with a fresh database, driven by playwright-go in Debian's Chromium.
// `make test` (or e2e/setup.sh) installs Chromium and the driver first.
// These tests never skip: without a browser they fail.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

var (
	binPath string
	pw      *playwright.Playwright
	browser playwright.Browser
	expect  playwright.PlaywrightAssertions
)

// artifacts is where screenshots go (git-ignored).
const artifacts = "artifacts"

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "dashboard-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if binPath, err = dashtest.Build(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return 0, err
	}

	pw, err = playwright.Run(&playwright.RunOptions{SkipInstallBrowsers: true, Verbose: false})
	if err != nil {
		return 0, fmt.Errorf("start playwright (run e2e/setup.sh first): %w", err)
	}
	defer pw.Stop()
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	browser, err = pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath:  playwright.String(chromium),
		Headless:        playwright.Bool(true),
		ChromiumSandbox: playwright.Bool(false),
		Args: []string{"--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--disable-background-networking", "--disable-component-update",
			"--disable-sync", "--no-first-run", "--disable-extensions",
			// Every host but 127.0.0.1 and localhost fails to resolve: an
			// accidental CDN reference fails loudly. (Passkeys need a
			// name: their tests use localhost.)
			"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"},
	})
	if err != nil {
		return 0, fmt.Errorf("launch %s (run e2e/setup.sh first): %w", chromium, err)
	}
	defer browser.Close()
	expect = playwright.NewPlaywrightAssertions(10_000)
	return m.Run(), nil
}

// app is a running dashboard with its own database (see dashtest).
type app struct{ *dashtest.App }

// startApp starts the dashboard on a free port with a fresh database and
// stops it when the test ends.
func startApp(t *testing.T, args ...string) *app {
	t.Helper()
	return &app{dashtest.Start(t, binPath, args...)}
}

// createAdmin creates a workspace and its admin with the admin command.
func (a *app) createAdmin(t *testing.T, workspace, email, password string) {
	t.Helper()
	a.CreateAdmin(t, workspace, email, password)
}

// cli runs "dashboard CMD SUB --db DB ARGS..." and returns its output.
func (a *app) cli(t *testing.T, stdin, cmd, sub string, args ...string) (string, error) {
	t.Helper()
	return a.CLI(t, stdin, cmd, sub, args...)
}

type pageOptions struct {
	noJS   bool
	mobile bool
	width  int  // viewport width (default 1360; 390 with mobile)
	dark   bool // the system prefers a dark colour scheme
	// axe lets the tests inject axe-core (the context ignores the pages'
	// Content-Security-Policy) and turns animations off, so that colours
	// are checked as they end up.
	axe bool
	// appScriptsOff serves the page's own scripts (htmx, app.js) empty:
	// the page is what a browser without JavaScript gets, and tests can
	// still inject theirs (axe).
	appScriptsOff bool
}

// newPage opens a page in a fresh browser context (no shared cookies).
// The test fails on any console error, uncaught exception or failed
// request of that page.
func newPage(t *testing.T, a *app, o pageOptions) playwright.Page {
	t.Helper()
	opts := playwright.BrowserNewContextOptions{
		BaseURL:           playwright.String(a.URL),
		JavaScriptEnabled: playwright.Bool(!o.noJS),
		Viewport:          &playwright.Size{Width: 1360, Height: 860},
		Permissions:       []string{"clipboard-read", "clipboard-write"},
	}
	if o.dark {
		opts.ColorScheme = playwright.ColorSchemeDark
	}
	if o.mobile {
		opts.Viewport = &playwright.Size{Width: 390, Height: 844}
		opts.IsMobile = playwright.Bool(true)
		opts.HasTouch = playwright.Bool(true)
		opts.DeviceScaleFactor = playwright.Float(2)
	}
	if o.width != 0 {
		opts.Viewport.Width = o.width
	}
	if o.dark {
		opts.ColorScheme = playwright.ColorSchemeDark
	} else {
		opts.ColorScheme = playwright.ColorSchemeLight
	}
	if o.axe {
		opts.BypassCSP = playwright.Bool(true)
		opts.ReducedMotion = playwright.ReducedMotionReduce
	}
	ctx, err := browser.NewContext(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx.SetDefaultTimeout(10_000)
	if o.appScriptsOff {
		err := ctx.Route("**/static/js/*.js", func(r playwright.Route) {
			r.Fulfill(playwright.RouteFulfillOptions{Status: playwright.Int(200), ContentType: playwright.String("text/javascript"), Body: "/* off */"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	page, err := ctx.NewPage()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	report := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	page.OnConsole(func(m playwright.ConsoleMessage) {
		if m := httpStatusMessage.FindStringSubmatch(m.Text()); m != nil && allowedStatus(page, m[1]) {
			return // an answer the test asked for, such as a 422 form
		}
		if m.Type() == "error" || m.Type() == "warning" {
			report(fmt.Sprintf("console %s: %s", m.Type(), m.Text()))
		}
	})
	page.OnPageError(func(err error) { report("page error: " + err.Error()) })
	page.OnRequestFailed(func(r playwright.Request) {
		report(fmt.Sprintf("request failed: %s %s: %v", r.Method(), r.URL(), r.Failure()))
	})
	t.Cleanup(func() {
		ctx.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Error(p)
		}
	})
	return page
}

// Chrome logs every 4xx/5xx answer as a console error, and htmx logs
// the error answers to its requests once more; tests declare the
// statuses they expect with allowStatus.
var (
	httpStatusMessage = regexp.MustCompile(`^(?:Failed to load resource: the server responded with a status of|Response Status Error Code) (\d+)`)
	allowedStatuses   sync.Map // playwright.Page -> *sync.Map of status strings
)

// allowStatus lets page receive these HTTP error statuses without failing
// the test (the status itself is asserted by the test).
func allowStatus(page playwright.Page, statuses ...int) {
	set, _ := allowedStatuses.LoadOrStore(page, &sync.Map{})
	for _, s := range statuses {
		set.(*sync.Map).Store(fmt.Sprint(s), true)
	}
}

func allowedStatus(page playwright.Page, status string) bool {
	set, ok := allowedStatuses.Load(page)
	if !ok {
		return false
	}
	_, ok = set.(*sync.Map).Load(status)
	return ok
}

// shot saves a full-page screenshot as artifacts/NAME.png.
func shot(t *testing.T, page playwright.Page, name string) {
	t.Helper()
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{
		Path:       playwright.String(filepath.Join(artifacts, name+".png")),
		FullPage:   playwright.Bool(true),
		Animations: playwright.ScreenshotAnimationsDisabled, // finished, not caught half way
		// A tall page on a busy 2-core machine takes a while to paint:
		// a screenshot is a record, not an assertion about speed.
		Timeout: playwright.Float(60_000),
	}); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func goTo(t *testing.T, page playwright.Page, path string) playwright.Response {
	t.Helper()
	resp, err := page.Goto(path)
	if err != nil {
		t.Fatalf("goto %s: %v", path, err)
	}
	return resp
}

// signIn signs in through the sign-in page and waits for the keys page.
func signIn(t *testing.T, page playwright.Page, email, password string) {
	t.Helper()
	goTo(t, page, "/login")
	must(t, page.GetByLabel("Email").Fill(email))
	must(t, page.GetByLabel("Password").Fill(password))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
}

// uniq returns s with a suffix unique in this test run.
func uniq(s string) string {
	return fmt.Sprintf("%s %d", s, time.Now().UnixNano()%1_000_000)
}

// addExpiredKey stores a key that expired on Jan 31, 2026 straight into
// the app's database, as the dashboard would have when it was created.
func addExpiredKey(t *testing.T, a *app, name string) {
	t.Helper()
	storeKey(t, a, name, []string{"data:read", "proxy:read"}, time.Date(2025, 11, 3, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
}

// addKey stores an active key that never expires straight into the app's
// database (scopes nil: all permissions).
func addKey(t *testing.T, a *app, name string, scopes []string) {
	t.Helper()
	if scopes == nil {
		scopes = []string{"*"}
	}
	storeKey(t, a, name, scopes, time.Now().Add(-time.Hour), time.Time{})
}

// storeKey stores a key straight into the app's database and returns its
// token and id.
func storeKey(t *testing.T, a *app, name string, scopeNames []string, created, expires time.Time) (token, id string) {
	t.Helper()
	tokens, ids := storeKeys(t, a, []seedKey{{name: name, scopes: scopeNames, created: created, expires: expires}})
	return tokens[0], ids[0]
}

// revokeStoredKey revokes a key straight in the app's database, as the
// admin did at the given time.
func revokeStoredKey(t *testing.T, a *app, id string, at time.Time) {
	t.Helper()
	store, login := openAsAdmin(t, a)
	defer store.Close()
	_, err := store.RevokeKey(context.Background(), login.Workspace.ID, id, audit.Actor{UserID: login.User.ID, Kind: audit.User}, at)
	must(t, err)
}

// openAsAdmin opens the app's database, as another process would, with
// the login of its admin ada@acme.test; the caller closes it.
func openAsAdmin(t *testing.T, a *app) (*db.DB, blnk.Login) {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, a.DB)
	must(t, err)
	login, err := store.LoginByEmail(ctx, "ada@acme.test")
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	return store, login
}

// accountMenu is the summary of the account menu (a <details>); its
// accessible name begins with the email it shows (see
// TestFocusAfterRevokeAndMenus).
func accountMenu(page playwright.Page) playwright.Locator {
	return page.Locator("header details.user-menu > summary")
}
