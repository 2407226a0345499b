package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Exporter writes events, one at a time, as a file people download: CSV
// or a JSON array. Nothing is held but the current event, so an export
// of any size costs the same memory. Close ends the file.
type Exporter interface {
	Write(Event) error
	// Flush sends what is buffered on to the underlying writer.
	Flush() error
	Close() error
}

// Formats are the export formats, by the name URLs and flags use.
var Formats = []string{"csv", "json"}

// NewExporter returns an Exporter of format ("csv" or "json") writing to
// w. withWorkspace adds each event's workspace id (the command line's
// export spans workspaces).
func NewExporter(format string, w io.Writer, withWorkspace bool) (Exporter, error) {
	switch format {
	case "csv":
		return newCSV(w, withWorkspace), nil
	case "json":
		return &jsonExporter{w: bufio.NewWriterSize(w, 32<<10), withWorkspace: withWorkspace}, nil
	}
	return nil, errors.New("audit: export format must be csv or json")
}

// TimeLayout is how exports write times: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

type csvExporter struct {
	buf           *bufio.Writer
	w             *csv.Writer
	withWorkspace bool
	header        bool
	row           []string
}

func newCSV(w io.Writer, withWorkspace bool) *csvExporter {
	buf := bufio.NewWriterSize(w, 32<<10)
	return &csvExporter{buf: buf, w: csv.NewWriter(buf), withWorkspace: withWorkspace}
}

// CSVHeader is the header row of a CSV export (without workspace_id).
var CSVHeader = []string{"id", "time", "action", "actor", "actor_kind", "ip", "key_id", "key_prefix", "details"}

func (e *csvExporter) Write(ev Event) error {
	if err := e.writeHeader(); err != nil {
		return err
	}
	e.row = e.row[:0]
	if e.withWorkspace {
		e.row = append(e.row, strconv.FormatInt(ev.WorkspaceID, 10))
	}
	e.row = append(e.row, strconv.FormatInt(ev.ID, 10), ev.At.UTC().Format(TimeLayout), string(ev.Action),
		cell(ev.Actor.Name()), string(ev.Actor.Kind), cell(ev.Actor.IP), ev.KeyID, ev.KeyPrefix, ev.DetailsJSON())
	return e.w.Write(e.row)
}

// cell defuses text a spreadsheet would run as a formula (a key name or
// an email starting with "=", "+", "-" or "@"): it is prefixed with an
// apostrophe, as OWASP advises. Details are JSON objects: they start
// with "{".
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (e *csvExporter) Flush() error {
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return err
	}
	return e.buf.Flush()
}

func (e *csvExporter) Close() error {
	// An empty export still says what its columns are.
	if err := e.writeHeader(); err != nil {
		return err
	}
	return e.Flush()
}

// writeHeader writes the header row, once.
func (e *csvExporter) writeHeader() error {
	if e.header {
		return nil
	}
	e.header = true
	h := CSVHeader
	if e.withWorkspace {
		h = append([]string{"workspace_id"}, h...)
	}
	return e.w.Write(h)
}

type jsonExporter struct {
	w             *bufio.Writer
	withWorkspace bool
	n             int
}

// jsonEvent is an event in a JSON export.
type jsonEvent struct {
	ID          int64           `json:"id"`
	WorkspaceID *int64          `json:"workspace_id,omitempty"`
	Time        string          `json:"time"`
	Action      Action          `json:"action"`
	Actor       string          `json:"actor"`
	ActorKind   ActorKind       `json:"actor_kind"`
	IP          string          `json:"ip"`
	KeyID       string          `json:"key_id"`
	KeyPrefix   string          `json:"key_prefix"`
	Details     json.RawMessage `json:"details"`
}

func (e *jsonExporter) Write(ev Event) error {
	sep := ",\n"
	if e.n == 0 {
		sep = "[\n"
	}
	e.n++
	je := jsonEvent{
		ID: ev.ID, Time: ev.At.UTC().Format(TimeLayout), Action: ev.Action, Actor: ev.Actor.Name(), ActorKind: ev.Actor.Kind,
		IP: ev.Actor.IP, KeyID: ev.KeyID, KeyPrefix: ev.KeyPrefix, Details: json.RawMessage(ev.DetailsJSON()),
	}
	if e.withWorkspace {
		ws := ev.WorkspaceID
		je.WorkspaceID = &ws
	}
	if !json.Valid(je.Details) {
		je.Details = json.RawMessage("{}")
	}
	b, err := json.Marshal(je)
	if err != nil {
		return err
	}
	if _, err := e.w.WriteString(sep); err != nil {
		return err
	}
	_, err = e.w.Write(b)
	return err
}

func (e *jsonExporter) Flush() error { return e.w.Flush() }

func (e *jsonExporter) Close() error {
	end := "\n]\n"
	if e.n == 0 {
		end = "[]\n"
	}
	if _, err := e.w.WriteString(end); err != nil {
		return err
	}
	return e.w.Flush()
}
