package sip

import "testing"

// TestIsFeatureCode: a star then digits, stars or hashes; nothing else reaches the App as a
// feature code.
func TestIsFeatureCode(t *testing.T) {
	for s, want := range map[string]bool{"*45": true, "*4": true, "*72#": true, "**1": true,
		"*": false, "45": false, "*4a": false, "+15550103": false, "": false, "*45@x": false} {
		if got := isFeatureCode(s); got != want {
			t.Errorf("isFeatureCode(%q) = %v", s, got)
		}
	}
}
