package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/idempotency"
)

// maxIdempotentBody bounds the body the Idempotency middleware reads to
// hash it, in case no body limit ran before it.
const maxIdempotentBody = 1 << 20

// keptHeaders are the headers of an answer that a replay sends again
// (the rest, such as X-Request-Id, belong to each request).
var keptHeaders = []string{echo.HeaderContentType, echo.HeaderLocation}

// Idempotency makes a POST sent with an Idempotency-Key header safe to
// retry (package idempotency): the first request runs, and its answer is
// kept 24 hours for the token that scope names (its id, and false when the
// request has no token: then the header is not looked at); a retry with
// the same key and request gets that answer again, with its status and
// Idempotent-Replayed: true, and without the secret of a new key, which
// only the first caller gets. The same key with another method, path or
// body is 422 idempotency_mismatch; a retry while the first runs, 409
// idempotency_in_progress with Retry-After; a key longer than 255
// characters, empty, given twice or holding control characters, 422
// validation_failed. Answers of 500 and above, and 429, are not kept: a
// retry runs again.
//
// It goes after the token's authentication (scope must know the token)
// and the body limit, on each management POST.
func Idempotency(svc *idempotency.Service, scope func(echo.Context) (int64, bool)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			keys := r.Header.Values("Idempotency-Key")
			if r.Method != http.MethodPost || len(keys) == 0 {
				return next(c)
			}
			token, ok := scope(c)
			if !ok {
				return next(c)
			}
			if len(keys) > 1 {
				return badIdempotencyKey("Send one Idempotency-Key header.")
			}
			body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxIdempotentBody))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					return apiError(http.StatusRequestEntityTooLarge, "body_too_large", "The body is too large.")
				}
				return apiError(http.StatusBadRequest, "bad_request", "The body could not be read.")
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			claim, kept, err := svc.Begin(r.Context(), token, keys[0], r.Method, r.URL.Path, body)
			switch {
			case errors.Is(err, blnk.ErrIdempotencyMismatch):
				return apiError(http.StatusUnprocessableEntity, "idempotency_mismatch", blnk.ErrIdempotencyMismatch.Message)
			case errors.Is(err, blnk.ErrIdempotencyInProgress):
				c.Response().Header().Set("Retry-After", "1")
				return apiError(http.StatusConflict, "idempotency_in_progress", blnk.ErrIdempotencyInProgress.Message)
			case derrors.Code(err) == derrors.EINVALID:
				return badIdempotencyKey(derrors.Message(err))
			case err != nil:
				return err
			case kept != nil:
				return replay(c, kept)
			}
			return runKept(c, next, svc, claim)
		}
	}
}

// badIdempotencyKey is the 422 of a header that cannot be a key.
func badIdempotencyKey(msg string) error {
	return &problem{status: http.StatusUnprocessableEntity, code: "validation_failed", message: msg,
		fields: map[string]string{"Idempotency-Key": msg}}
}

// replay answers a kept answer again.
func replay(c echo.Context, kept *blnk.StoredResponse) error {
	h := c.Response().Header()
	for k, v := range kept.Header {
		h.Set(k, v)
	}
	h.Set("Idempotent-Replayed", "true")
	c.Response().WriteHeader(kept.Status)
	_, err := c.Response().Write(kept.Body)
	return err
}

// runKept runs the claimed request with its answer held in a buffer,
// keeps the answer (without secrets), and only then sends it, secret
// included, to this caller: a retry that arrives once this caller has
// its answer finds it kept.
func runKept(c echo.Context, next echo.HandlerFunc, svc *idempotency.Service, claim *idempotency.Claim) (err error) {
	ctx := context.WithoutCancel(c.Request().Context())
	res := c.Response()
	w := res.Writer
	buf := &heldResponse{header: w.Header()}
	res.Writer = buf
	finished := false
	defer func() {
		res.Writer = w
		if !finished {
			// A panic: nothing was answered, so a retry may run again.
			if rerr := svc.Release(ctx, claim); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	if herr := next(c); herr != nil {
		c.Error(herr) // the error's answer is an answer like any other
	}
	finished = true
	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		if rerr := svc.Release(ctx, claim); rerr != nil {
			return rerr
		}
	} else {
		kept := blnk.StoredResponse{Status: status, Header: map[string]string{}, Body: buf.body.Bytes()}
		for _, k := range keptHeaders {
			if v := w.Header().Get(k); v != "" {
				kept.Header[k] = v
			}
		}
		// Finish logs its failure: the request ran, so its answer goes
		// to the caller all the same, and a retry finds the row running
		// (409) until it may take it over.
		_ = svc.Finish(ctx, claim, kept)
	}
	w.WriteHeader(status)
	_, err = w.Write(buf.body.Bytes())
	return err
}

// heldResponse holds what a handler answers, to be sent later.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}
