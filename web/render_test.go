package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/labstack/echo/v4"
)

// TestRenderFailureIsAnErrorPage: a component that fails half way must
// give the whole 500 page, not the half it wrote with a 200.
func TestRenderFailureIsAnErrorPage(t *testing.T) {
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	e := echo.New()
	e.HTTPErrorHandler = s.handleError
	text := func(html string) templ.Component {
		return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, html)
			return err
		})
	}
	failing := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		io.WriteString(w, "<p>half a page")
		return errors.New("template failed")
	})
	e.GET("/fails", func(c echo.Context) error { return render(c, http.StatusOK, failing) })
	e.GET("/fails-second", func(c echo.Context) error { return render(c, http.StatusOK, text("<p>first</p>"), failing) })
	e.GET("/works", func(c echo.Context) error {
		return render(c, http.StatusCreated, text("<p>one</p>"), text("<p>two</p>"))
	})

	for _, path := range []string{"/fails", "/fails-second"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("GET %s: got %d, want 500", path, rec.Code)
		}
		body := rec.Body.String()
		if !strings.HasPrefix(strings.ToLower(body), "<!doctype html>") || htmlcheck.Parse(t, body).Text(".error-card h1") != "Something went wrong" {
			t.Errorf("GET %s: want the whole error page, got\n%s", path, body)
		}
		if strings.Contains(body, "half a page") || strings.Contains(body, "first") {
			t.Errorf("GET %s: the error page holds what the failed render wrote", path)
		}
	}
	if !strings.Contains(logs.String(), "template failed") {
		t.Errorf("the render error was not logged:\n%s", logs.String())
	}

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/works", nil))
	if rec.Code != http.StatusCreated || rec.Body.String() != "<p>one</p><p>two</p>" {
		t.Errorf("GET /works: got %d %q, want 201 and both components in order", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=UTF-8" {
		t.Errorf("Content-Type: got %q", got)
	}
}
