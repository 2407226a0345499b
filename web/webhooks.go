package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/endpoints"
	"github.com/blnk-cloud/apikeys/internal/webhook"
	"github.com/blnk-cloud/apikeys/views"
)

// recentDeliveries is how many deliveries an endpoint's page lists.
const recentDeliveries = 50

// maxWebhookDescription is the longest description, in characters.
const maxWebhookDescription = 500

// secretCookie lets the browser that added an endpoint see its signing
// secret once, on the secret page (whose path scopes it). It carries no
// secret: the page takes it from the database, which shows it once.
const secretCookie = "blnk_whsecret"

func (s *Server) webhookList(c echo.Context) error {
	p, err := s.page(c, "Webhooks")
	if err != nil {
		return err
	}
	p.Nav = views.NavWebhooks
	list, err := s.db.Webhooks(c.Request().Context(), mustSession(c).Workspace.ID)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WebhooksPage(p, views.WebhookList{Endpoints: list, Now: p.Now}))
}

func (s *Server) webhookNew(c echo.Context) error {
	return s.renderWebhookForm(c, http.StatusOK, views.WebhookForm{Token: newFormToken()})
}

func (s *Server) renderWebhookForm(c echo.Context, status int, f views.WebhookForm) error {
	if !isFullPage(c) {
		if c.Request().Method == http.MethodPost {
			return render(c, status, views.WebhookFormBody(f))
		}
		return render(c, status, views.NewWebhookModal(f))
	}
	return renderPage(s, c, status, views.NavWebhooks, "Add endpoint", views.NewWebhookPage, f)
}

// webhookInput is the validated add form.
type webhookInput struct {
	url         string
	events      []webhook.EventType
	description string
}

// validateWebhookForm checks the add form; f collects the problems.
func (s *Server) validateWebhookForm(c echo.Context, f *views.WebhookForm) (webhookInput, bool) {
	p := views.Problems{}
	var in webhookInput
	var err error
	if apikey.ContainsToken(f.URL) {
		p["url"] = derrors.Message(apikey.ErrLooksLikeKey)
	} else if in.url, err = webhook.CheckURL(f.URL); err != nil {
		p["url"] = derrors.Message(err)
	} else {
		// The host is resolved: bound the wait for a slow resolver (a name
		// that does not resolve in time is checked again on every
		// connection anyway).
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		err := s.cfg.Webhooks.Guard.CheckURL(ctx, in.url)
		cancel()
		switch {
		case errors.Is(err, webhook.ErrPrivateAddress):
			p["url"] = "This URL is a private address (loopback, private network, link-local or reserved): webhooks go to public addresses only, unless the server runs with --webhook-allow-private."
		case err != nil:
			p["url"] = "This URL points at this dashboard itself: use your receiver's address."
		}
	}
	seen := map[string]bool{}
	for _, e := range f.Events {
		switch {
		case !webhook.Subscribable(e):
			p["events"] = "Choose among the events listed."
		case !seen[e]:
			seen[e] = true
		}
	}
	if p["events"] == "" {
		for _, info := range webhook.Events() {
			if seen[string(info.Type)] {
				in.events = append(in.events, info.Type)
			}
		}
		if len(in.events) == 0 {
			p["events"] = "Choose at least one event."
		}
	}
	if in.description, err = apikey.CleanNotes("Description", f.Description, maxWebhookDescription); err != nil {
		p["description"] = derrors.Message(err)
	}
	f.Problems = p
	return in, len(p) == 0
}

func (s *Server) webhookCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := views.WebhookForm{
		URL:         form.Get("url"),
		Events:      form["events"],
		Description: form.Get("description"),
		Token:       formToken(form),
	}
	in, ok := s.validateWebhookForm(c, &f)
	if !ok {
		f.URL, f.Description = shown(f.URL), shown(f.Description)
		return s.renderWebhookForm(c, http.StatusUnprocessableEntity, f)
	}
	cur := mustSession(c)
	ep, created, err := s.endpoints.Create(c.Request().Context(), endpoints.Spec{
		WorkspaceID: cur.Workspace.ID, URL: in.url, Events: in.events, Description: in.description,
		CreatedBy: cur.User.ID, FormToken: f.Token,
	}, s.actor(c))
	if err != nil {
		return err
	}
	if created {
		if err := s.setSecretCookie(c, ep.ID); err != nil {
			return err
		}
	}
	return redirect(c, views.WebhookURL(ep.ID, "secret"))
}

func (s *Server) setSecretCookie(c echo.Context, id string) error {
	cs := sessions.NewSession(s.cookies, secretCookie)
	cs.Options = &sessions.Options{Path: views.WebhookURL(id, "secret"), MaxAge: int(revealTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode}
	cs.IsNew = true
	cs.Values["id"] = id
	cs.Values["until"] = s.cfg.Now().Add(revealTTL).UnixMilli()
	return s.saveCookie(c, cs)
}

// takeSecretCookie reports whether the request carries the cookie of the
// browser that added endpoint id, and deletes it.
func (s *Server) takeSecretCookie(c echo.Context, id string) (bool, error) {
	cs, _ := s.cookies.Get(c.Request(), secretCookie)
	cid, _ := cs.Values["id"].(string)
	until, _ := cs.Values["until"].(int64)
	ok := cid == id && s.cfg.Now().UnixMilli() < until
	if cs.IsNew {
		return false, nil
	}
	cs.Options = &sessions.Options{Path: views.WebhookURL(id, "secret"), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	cs.Values = map[any]any{}
	return ok, s.saveCookie(c, cs)
}

// workspaceWebhook loads the endpoint named by :id from the signed-in
// workspace; another workspace's, or an id that cannot exist, is 404.
func (s *Server) workspaceWebhook(c echo.Context) (webhook.Endpoint, error) {
	return loadInWorkspace(c, mustSession(c).Workspace.ID, webhook.ValidID, s.db.Webhook)
}

func (s *Server) webhookSecret(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	// A HEAD request (a monitor, a link preview) must not use up the one
	// showing: only a GET takes the secret.
	mine := false
	if c.Request().Method == http.MethodGet {
		if mine, err = s.takeSecretCookie(c, ep.ID); err != nil {
			return err
		}
	}
	var secret string
	if mine {
		if secret, err = s.endpoints.TakeSecret(c.Request().Context(), ep.WorkspaceID, ep.ID); err != nil {
			return err
		}
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	return renderPage(s, c, http.StatusOK, views.NavWebhooks, "Signing secret", views.WebhookSecretPage, views.WebhookSecret{Endpoint: ep, Secret: secret})
}

func (s *Server) webhookDetails(c echo.Context, ep webhook.Endpoint) (views.WebhookDetails, error) {
	list, err := s.db.WebhookDeliveries(c.Request().Context(), ep.WorkspaceID, ep.ID, recentDeliveries)
	return views.WebhookDetails{Endpoint: ep, Deliveries: list, Now: s.cfg.Now()}, err
}

func (s *Server) webhookShow(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	d, err := s.webhookDetails(c, ep)
	if err != nil {
		return err
	}
	return renderPage(s, c, http.StatusOK, views.NavWebhooks, "Webhook endpoint", views.WebhookPage, d)
}

// webhookDeliveries is the deliveries list alone, for htmx's refresh; a
// browser asking for it as a page goes to the endpoint's page.
func (s *Server) webhookDeliveries(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	if isFullPage(c) {
		return c.Redirect(http.StatusSeeOther, views.WebhookURL(ep.ID))
	}
	d, err := s.webhookDetails(c, ep)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DeliveriesSection(d))
}

// afterDeliveryChange answers a change to the deliveries: the fresh list
// for htmx, else a redirect to the endpoint's page with a notice.
func (s *Server) afterDeliveryChange(c echo.Context, ep webhook.Endpoint, notice string) error {
	if isFullPage(c) {
		return s.redirectWithFlash(c, views.WebhookURL(ep.ID), notice)
	}
	d, err := s.webhookDetails(c, ep)
	if err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", `{"toast":"`+notice+`"}`)
	return render(c, http.StatusOK, views.DeliveriesSection(d))
}

func (s *Server) webhookTest(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	err = s.endpoints.SendTest(c.Request().Context(), ep.WorkspaceID, ep.ID, s.actor(c))
	if errors.Is(err, blnk.ErrDisabled) {
		return echo.NewHTTPError(http.StatusConflict, "This endpoint is disabled: enable it to send a test event.")
	}
	if err != nil {
		return err
	}
	return s.afterDeliveryChange(c, ep, "Test event queued.")
}

func (s *Server) webhookResend(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("delivery"), 10, 64)
	if err != nil || id <= 0 {
		return echo.ErrNotFound
	}
	if err := s.endpoints.Resend(c.Request().Context(), ep.WorkspaceID, ep.ID, id); err != nil {
		return err
	}
	return s.afterDeliveryChange(c, ep, "Delivery queued again.")
}

func (s *Server) webhookDisable(c echo.Context) error { return s.setWebhookEnabled(c, false) }
func (s *Server) webhookEnable(c echo.Context) error  { return s.setWebhookEnabled(c, true) }

func (s *Server) setWebhookEnabled(c echo.Context, enabled bool) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	if err := s.endpoints.SetEnabled(c.Request().Context(), ep.WorkspaceID, ep.ID, enabled, s.actor(c)); err != nil {
		return err
	}
	notice := "The endpoint is disabled: it receives no events until you enable it."
	if enabled {
		notice = "The endpoint is enabled."
	}
	if err := s.addFlash(c, notice); err != nil {
		return err
	}
	return redirect(c, views.WebhookURL(ep.ID))
}

func (s *Server) webhookDeleteConfirm(c echo.Context) error {
	ep, err := s.workspaceWebhook(c)
	if err != nil {
		return err
	}
	return renderPage(s, c, http.StatusOK, views.NavWebhooks, "Delete endpoint", views.WebhookDeletePage, ep)
}

func (s *Server) webhookDelete(c echo.Context) error {
	id := c.Param("id")
	if !webhook.ValidID(id) {
		return echo.ErrNotFound
	}
	ep, err := s.endpoints.Delete(c.Request().Context(), mustSession(c).Workspace.ID, id, s.actor(c))
	if err != nil {
		return err
	}
	if err := s.addFlash(c, "The endpoint "+ep.URL+" was deleted."); err != nil {
		return err
	}
	return redirect(c, "/settings/webhooks")
}
