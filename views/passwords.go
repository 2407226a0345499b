package views

import "github.com/blnk-cloud/apikeys/internal/password"

// ForgotPath is the "forgot password" page.
const ForgotPath = "/password/forgot"

// ForgotPassword is the "forgot password" page.
type ForgotPassword struct {
	// Enabled: the server sends email. Otherwise the page says to ask an
	// Owner or Admin for a reset link.
	Enabled  bool
	Email    string
	Problems Problems
	// Sent: the form was sent; the page says the same whether the email
	// has an account or not.
	Sent bool
}

// ResetPassword is the page of a password reset link.
type ResetPassword struct {
	Email string
	// Refusal says why the link cannot be used ("" if it can).
	Refusal  string
	Problems Problems
}

// resetFields are the reset form's fields.
var resetFields = []fieldRef{{"password", "f-password"}, {"confirm", "f-confirm"}}

func passwordMin() int { return password.Min }
