package voice

import (
	"errors"
	"testing"

	"github.com/ccswitch/ccswitch/config"
)

// TestCallbackNumber: which numbers a callback may call (issue 15): a presented number as
// given (unless in a denied range), a keyed one only within callback.allowed — by default the
// DID's country — and never anything that is not a plain number.
func TestCallbackNumber(t *testing.T) {
	def := config.Callback{Denied: config.DefaultPremium, DailyCap: 3}
	fr := config.Callback{Allowed: []string{"+33"}, Denied: config.DefaultPremium}
	for _, c := range []struct {
		name        string
		pol         config.Callback
		number, did string
		keyed       bool
		want        string
		err         error
	}{
		{"presented E.164", def, "+15550199", "+15550103", false, "+15550199", nil},
		{"presented without +", def, "15550199", "+15550103", false, "+15550199", nil},
		{"presented 00 prefix", def, "0033123456789", "+15550103", false, "+33123456789", nil},
		{"presented abroad is fine", def, "+4930123456", "+15550103", false, "+4930123456", nil},
		{"presented premium", def, "+19005550100", "+15550103", false, "", errCallbackDenied},
		{"presented UK premium", def, "+449012345678", "+442079460000", false, "", errCallbackDenied},
		{"presented anonymous", def, "anonymous", "+15550103", false, "", errCallbackNumber},
		{"presented extension (a trunk's caller)", def, "1001", "+15550103", false, "", errCallbackNumber},
		{"too short", def, "112", "+15550103", false, "", errCallbackNumber},
		{"too long", def, "+1234567890123456", "+15550103", false, "", errCallbackNumber},
		{"keyed in the DID's country", def, "15550123", "+15550103", true, "+15550123", nil},
		{"keyed abroad", def, "4930123456", "+15550103", true, "", errCallbackKeyed},
		{"keyed French DID, French number", def, "33612345678", "+33123456789", true, "+33612345678", nil},
		{"keyed French DID, German number", def, "4930123456", "+33123456789", true, "", errCallbackKeyed},
		{"keyed premium in the country", def, "19765550100", "+15550103", true, "", errCallbackDenied},
		{"keyed, allowed list", fr, "33612345678", "+15550103", true, "+33612345678", nil},
		{"keyed, outside the allowed list", fr, "15550123", "+15550103", true, "", errCallbackKeyed},
		{"keyed with letters", def, "1555abc", "+15550103", true, "", errCallbackNumber},
	} {
		got, err := callbackNumber(c.pol, c.number, c.did, c.keyed)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: callbackNumber(%q, did %q, keyed %v) = %q, %v; want %q, %v", c.name, c.number, c.did, c.keyed, got, err, c.want, c.err)
		}
	}
}

func TestCountryCode(t *testing.T) {
	for n, want := range map[string]string{"15550103": "1", "74951234567": "7", "33123456789": "33", "4930123": "49",
		"35312345678": "353", "8613800000000": "86", "85212345678": "852", "": "", "3": ""} {
		if got := countryCode(n); got != want {
			t.Errorf("countryCode(%q) = %q, want %q", n, got, want)
		}
	}
}
