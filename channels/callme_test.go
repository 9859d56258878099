package channels

import "testing"

// TestIsCallMe: the messages that ask for a call while queued, and near misses that do not.
func TestIsCallMe(t *testing.T) {
	for text, want := range map[string]bool{
		"call me": true, "Call me!": true, "  CALL ME BACK. ": true, "please call me": true, "Rappelez-moi": true,
		"don't call me": false, "call me at +15550100": false, "call": false, "": false, "callme": false,
	} {
		if got := isCallMe(text); got != want {
			t.Errorf("isCallMe(%q) = %v, want %v", text, got, want)
		}
	}
}
