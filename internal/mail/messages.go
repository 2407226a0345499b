package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templates embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templates, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/*.html"))
)

// Invitation is what an invitation email says.
type Invitation struct {
	To        string
	Workspace string
	Role      string // "Admin"
	InvitedBy string // the inviter's email
	Link      string
	Expires   time.Time
}

// PasswordReset is what a password reset email says.
type PasswordReset struct {
	To      string
	Link    string
	Expires time.Time
}

// InvitationMessage is the email of an invitation.
func InvitationMessage(inv Invitation) (Message, error) {
	return build("invitation", inv.To, "You are invited to "+inv.Workspace+" on Blnk Cloud", inv)
}

// PasswordResetMessage is the email of a password reset link.
func PasswordResetMessage(r PasswordReset) (Message, error) {
	return build("password reset", r.To, "Choose a new password for Blnk Cloud", r)
}

// build renders the kind's text and HTML templates with data.
func build(kind, to, subject string, data any) (Message, error) {
	name := map[string]string{"invitation": "invitation", "password reset": "reset"}[kind]
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return Message{}, err
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html", data); err != nil {
		return Message{}, err
	}
	return Message{Kind: kind, To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
