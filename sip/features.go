package sip

import "strings"

// User is the extension that authenticated the INVITE ("" for a call from a trunk): the
// identity to trust for feature codes, unlike Caller (the From header).
func (in *Incoming) User() string { return in.user }

// isFeatureCode tells a feature code dialled by an extension ("*45"): a star, then digits,
// stars or hashes. Extensions' feature codes go to the App (voice handles *45).
func isFeatureCode(s string) bool {
	if len(s) < 2 || s[0] != '*' {
		return false
	}
	return strings.Trim(s[1:], "0123456789*#") == ""
}
