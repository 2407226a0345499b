package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/views"
)

// themeCookie remembers the colour theme a browser chose in the account
// menu; without it pages follow the system's preference. It is a plain
// cookie: it says nothing about anyone, and a forged value is ignored.
const themeCookie = "blnk_theme"

// themeMaxAge is how long the choice is remembered: 400 days, the most
// browsers keep a cookie.
const themeMaxAge = 400 * 24 * time.Hour

// withTheme puts the browser's chosen theme in the request's context,
// where the page shell reads it: the server draws the page in that theme,
// so it never flashes in the other one first.
func (s *Server) withTheme(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if forMachines(c.Request().URL.Path) {
			return next(c)
		}
		if ck, err := c.Cookie(themeCookie); err == nil {
			if t, ok := views.ParseTheme(ck.Value); ok && t != views.ThemeSystem {
				r := c.Request()
				c.SetRequest(r.WithContext(views.WithTheme(r.Context(), t)))
			}
		}
		return next(c)
	}
}

// themeSet remembers the theme chosen in the account menu. app.js sends
// it in the background (204); a plain form post goes back to the page it
// came from.
func (s *Server) themeSet(c echo.Context) error {
	t, ok := views.ParseTheme(c.FormValue("theme"))
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose a theme: light, dark or system.")
	}
	ck := &http.Cookie{
		Name:     themeCookie,
		Value:    t.Value(),
		Path:     "/",
		MaxAge:   int(themeMaxAge / time.Second),
		HttpOnly: true,
		Secure:   s.isTLS(c.Request()),
		SameSite: http.SameSiteLaxMode,
	}
	if t == views.ThemeSystem {
		ck.Value, ck.MaxAge = "", -1
	}
	c.SetCookie(ck)
	if c.Request().Header.Get("HX-Request") == "true" {
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, backTo(c))
}

// backTo is the page a form was sent from, when the browser says so and
// it is on this site (Referer, same-origin), else the keys list.
func backTo(c echo.Context) string {
	u, err := url.Parse(c.Request().Referer())
	if err != nil || u.Host != c.Request().Host {
		return listPath
	}
	if p := localPath(u.RequestURI()); p != "" {
		return p
	}
	return listPath
}
