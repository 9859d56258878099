package route

import "strings"

// Kind is what an INVITE is.
type Kind uint8

const (
	// Refuse: answer Status/Reason, count Cause.
	Refuse Kind = iota + 1
	// Feature: an extension dialled a feature code ("*45"); the App handles it.
	Feature
	// Flow: one of our numbers whose calls run a flow (Number).
	Flow
	// Extension: ring an extension (Extension), dialled directly or through a DID (Number).
	Extension
	// Trunk: call Number out through the first of Trunks that takes it.
	Trunk
	// Emergency: an emergency number, through the first of Trunks that takes it; no
	// outbound right, class or limit applies.
	Emergency
)

var kindNames = [...]string{"", "refuse", "feature", "flow", "extension", "trunk", "emergency"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// User is what routing knows of an extension.
type User struct {
	// Outbound is the right to call numbers outside ccswitch through a trunk.
	Outbound bool
}

// Number is one of our numbers (DIDs): an extension to ring or a flow to run.
type Number struct {
	Target string // extension
	Flow   string
}

// TrunkOut is a trunk with an outbound destination, as routing sees it.
type TrunkOut struct {
	Name string
	// Prefixes the dialled number must start with (without '+'); none: any number.
	Prefixes []string
}

// Table is the compiled configuration routing decides with. It is read-only once built.
type Table struct {
	Users map[string]User
	// Numbers are keyed by the DID without its leading '+'.
	Numbers map[string]Number
	// Trunks are the trunks with an outbound destination, in file order.
	Trunks []TrunkOut
	// Emergency are the emergency numbers, dialled exactly.
	Emergency map[string]bool
	// EmergencyTrunk is tried first for emergency calls ("": the first of Trunks).
	EmergencyTrunk string
	// Features: an App handles feature codes (without one they are ordinary numbers).
	Features bool
}

// Request is who asks to reach what.
type Request struct {
	// User is the extension the request authenticated as ("": none).
	User string
	// Trunk is the trunk the request came from, by source, digest or registration ("": none).
	Trunk string
	// Dialled is the Request-URI's user part; To is the To header's, for carriers that put
	// the DID only there (registration trunks).
	Dialled, To string
}

// Decision is what to do with a request. The zero Decision is not valid.
type Decision struct {
	Kind Kind
	// Status, Reason and Cause (a metric label) are set for Refuse.
	Status int
	Reason string
	Cause  string
	// Extension to ring (Kind Extension).
	Extension string
	// Number is the DID (without '+') for Flow and for Extension reached through a DID; the
	// number to call for Trunk and Emergency.
	Number string
	// Feature is the code for Feature.
	Feature string
	// Trunks to try in order (Trunk, Emergency).
	Trunks []string
}

// Refusal causes (metric labels).
const (
	CauseUnauthenticated = "unauthenticated"
	CauseForbidden       = "forbidden"
	CauseNotFound        = "not-found"
	CauseBadNumber       = "bad-number"
	CauseNoRoute         = "no-route"
	CauseNoTrunk         = "no-trunk"
	CauseTrunkDown       = "trunk-down"
)

func refuse(status int, reason, cause string) Decision {
	return Decision{Kind: Refuse, Status: status, Reason: reason, Cause: cause}
}

// Decide says what req is. up reports whether a trunk is up (nil: all are).
func Decide(t *Table, req Request, up func(trunk string) bool) Decision {
	if up == nil {
		up = func(string) bool { return true }
	}
	if req.User == "" {
		if req.Trunk == "" {
			return refuse(403, "Forbidden", CauseUnauthenticated)
		}
		return inbound(t, req)
	}
	u, ok := t.Users[req.User]
	if !ok {
		return refuse(403, "Forbidden", CauseUnauthenticated)
	}
	d := req.Dialled
	if _, ok := t.Users[d]; ok && d != "" {
		return Decision{Kind: Extension, Extension: d}
	}
	if n, key, ok := t.number(d); ok {
		return t.toNumber(n, key)
	}
	if t.Features && IsFeatureCode(d) {
		return Decision{Kind: Feature, Feature: d}
	}
	if t.Emergency[d] {
		trunks := t.emergencyTrunks(up)
		if len(trunks) == 0 {
			return refuse(503, "Service Unavailable", CauseNoTrunk)
		}
		return Decision{Kind: Emergency, Number: d, Trunks: trunks}
	}
	if !u.Outbound {
		return refuse(403, "Forbidden", CauseForbidden)
	}
	if !IsNumber(d) {
		return refuse(404, "Not Found", CauseBadNumber)
	}
	trunks, down := t.outbound(d, up)
	switch {
	case len(trunks) > 0:
		return Decision{Kind: Trunk, Number: d, Trunks: trunks}
	case down:
		return refuse(503, "Service Unavailable", CauseTrunkDown)
	}
	return refuse(404, "No Route", CauseNoRoute)
}

// inbound routes a trunk's request: only our numbers.
func inbound(t *Table, req Request) Decision {
	n, key, ok := t.number(req.Dialled)
	if !ok {
		n, key, ok = t.number(req.To)
	}
	if !ok {
		return refuse(404, "Not Found", CauseNotFound)
	}
	return t.toNumber(n, key)
}

func (t *Table) toNumber(n Number, key string) Decision {
	if n.Target != "" {
		if _, ok := t.Users[n.Target]; !ok {
			return refuse(404, "Not Found", CauseNotFound)
		}
		return Decision{Kind: Extension, Extension: n.Target, Number: key}
	}
	return Decision{Kind: Flow, Number: key}
}

func (t *Table) number(d string) (Number, string, bool) {
	key := strings.TrimPrefix(d, "+")
	if key == "" {
		return Number{}, "", false
	}
	n, ok := t.Numbers[key]
	return n, key, ok
}

// outbound lists the trunks that are up and whose prefixes match d, in file order, and
// whether a matching trunk was skipped because it is down.
func (t *Table) outbound(d string, up func(string) bool) (trunks []string, down bool) {
	bare := strings.TrimPrefix(d, "+")
	for _, tr := range t.Trunks {
		if !matches(tr.Prefixes, bare) {
			continue
		}
		if !up(tr.Name) {
			down = true
			continue
		}
		trunks = append(trunks, tr.Name)
	}
	return trunks, down
}

// emergencyTrunks is EmergencyTrunk (or the first trunk) first, then the other trunks that
// are up, then the first choice again if it alone remains: a failed health check must not
// stop an emergency call. Prefixes do not apply.
func (t *Table) emergencyTrunks(up func(string) bool) []string {
	first := ""
	for _, tr := range t.Trunks {
		if tr.Name == t.EmergencyTrunk || t.EmergencyTrunk == "" {
			first = tr.Name
			break
		}
	}
	if first == "" && len(t.Trunks) > 0 {
		first = t.Trunks[0].Name
	}
	if first == "" {
		return nil
	}
	out := []string{first}
	if !up(first) {
		out = out[:0]
	}
	for _, tr := range t.Trunks {
		if tr.Name != first && up(tr.Name) {
			out = append(out, tr.Name)
		}
	}
	if !up(first) {
		out = append(out, first)
	}
	return out
}

func matches(prefixes []string, bare string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(bare, strings.TrimPrefix(p, "+")) {
			return true
		}
	}
	return false
}

// IsNumber reports whether s looks like a dialable number (digits, optional leading +, * and
// #), the only thing sent to a trunk.
func IsNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// IsFeatureCode tells a feature code ("*45"): a star, then digits, stars or hashes.
func IsFeatureCode(s string) bool {
	if len(s) < 2 || s[0] != '*' {
		return false
	}
	return strings.Trim(s[1:], "0123456789*#") == ""
}
