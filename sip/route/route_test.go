package route

import (
	"reflect"
	"testing"
)

func table() *Table {
	return &Table{
		Users: map[string]User{
			"1001": {Outbound: true},
			"1002": {},
			"2000": {},
		},
		Numbers: map[string]Number{
			"15550101": {Target: "1001"},
			"15550100": {Flow: "main"},
		},
		Trunks: []TrunkOut{
			{Name: "us", Prefixes: []string{"+1"}},
			{Name: "backup", Prefixes: []string{"1", "44"}},
			{Name: "any"},
		},
		Emergency:      map[string]bool{"112": true, "911": true},
		EmergencyTrunk: "backup",
		Features:       true,
	}
}

func TestDecide(t *testing.T) {
	downBackup := func(n string) bool { return n != "backup" }
	allDown := func(string) bool { return false }
	cases := []struct {
		name string
		req  Request
		up   func(string) bool
		mod  func(*Table)
		want Decision
	}{
		{name: "nobody", req: Request{Dialled: "1001"},
			want: Decision{Kind: Refuse, Status: 403, Reason: "Forbidden", Cause: CauseUnauthenticated}},
		{name: "unknown user", req: Request{User: "9999", Dialled: "1001"},
			want: Decision{Kind: Refuse, Status: 403, Reason: "Forbidden", Cause: CauseUnauthenticated}},
		{name: "extension", req: Request{User: "1002", Dialled: "1001"},
			want: Decision{Kind: Extension, Extension: "1001"}},
		{name: "own DID to extension", req: Request{User: "1002", Dialled: "+15550101"},
			want: Decision{Kind: Extension, Extension: "1001", Number: "15550101"}},
		{name: "own DID to flow without plus", req: Request{User: "1002", Dialled: "15550100"},
			want: Decision{Kind: Flow, Number: "15550100"}},
		{name: "feature code", req: Request{User: "1002", Dialled: "*45"},
			want: Decision{Kind: Feature, Feature: "*45"}},
		{name: "feature code without app is a number, refused without outbound", req: Request{User: "1002", Dialled: "*45"},
			mod:  func(t *Table) { t.Features = false },
			want: Decision{Kind: Refuse, Status: 403, Reason: "Forbidden", Cause: CauseForbidden}},
		{name: "feature code without app, outbound: a number to a trunk", req: Request{User: "1001", Dialled: "*45"},
			mod:  func(t *Table) { t.Features = false },
			want: Decision{Kind: Trunk, Number: "*45", Trunks: []string{"any"}}},
		{name: "emergency without outbound right", req: Request{User: "1002", Dialled: "911"},
			want: Decision{Kind: Emergency, Number: "911", Trunks: []string{"backup", "us", "any"}}},
		{name: "emergency, first choice down goes last", req: Request{User: "1002", Dialled: "112"}, up: downBackup,
			want: Decision{Kind: Emergency, Number: "112", Trunks: []string{"us", "any", "backup"}}},
		{name: "emergency, all down still tries", req: Request{User: "1002", Dialled: "112"}, up: allDown,
			want: Decision{Kind: Emergency, Number: "112", Trunks: []string{"backup"}}},
		{name: "emergency, no trunk", req: Request{User: "1002", Dialled: "112"}, mod: func(t *Table) { t.Trunks = nil },
			want: Decision{Kind: Refuse, Status: 503, Reason: "Service Unavailable", Cause: CauseNoTrunk}},
		{name: "emergency default trunk is the first", req: Request{User: "1001", Dialled: "911"}, mod: func(t *Table) { t.EmergencyTrunk = "" },
			want: Decision{Kind: Emergency, Number: "911", Trunks: []string{"us", "backup", "any"}}},
		{name: "emergency from a trunk is not ours", req: Request{Trunk: "us", Dialled: "911"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseNotFound}},
		{name: "outbound without right", req: Request{User: "1002", Dialled: "+15551234"},
			want: Decision{Kind: Refuse, Status: 403, Reason: "Forbidden", Cause: CauseForbidden}},
		{name: "outbound, prefixes in file order", req: Request{User: "1001", Dialled: "+15551234"},
			want: Decision{Kind: Trunk, Number: "+15551234", Trunks: []string{"us", "backup", "any"}}},
		{name: "outbound, prefix without plus matches", req: Request{User: "1001", Dialled: "15551234"},
			want: Decision{Kind: Trunk, Number: "15551234", Trunks: []string{"us", "backup", "any"}}},
		{name: "outbound, only matching trunks", req: Request{User: "1001", Dialled: "+4420123"},
			want: Decision{Kind: Trunk, Number: "+4420123", Trunks: []string{"backup", "any"}}},
		{name: "outbound, down trunk skipped", req: Request{User: "1001", Dialled: "+4420123"}, up: downBackup,
			want: Decision{Kind: Trunk, Number: "+4420123", Trunks: []string{"any"}}},
		{name: "outbound, all matching down", req: Request{User: "1001", Dialled: "+4420123"}, up: allDown,
			want: Decision{Kind: Refuse, Status: 503, Reason: "Service Unavailable", Cause: CauseTrunkDown}},
		{name: "outbound, no matching trunk", req: Request{User: "1001", Dialled: "+4420123"},
			mod:  func(t *Table) { t.Trunks = t.Trunks[:1] },
			want: Decision{Kind: Refuse, Status: 404, Reason: "No Route", Cause: CauseNoRoute}},
		{name: "outbound, not a number", req: Request{User: "1001", Dialled: "alice"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseBadNumber}},
		{name: "outbound, empty", req: Request{User: "1001", Dialled: ""},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseBadNumber}},
		{name: "outbound, too long", req: Request{User: "1001", Dialled: "+123456789012345678901234567890123"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseBadNumber}},
		{name: "outbound, a lone plus", req: Request{User: "1001", Dialled: "+"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseBadNumber}},
		{name: "inbound DID", req: Request{Trunk: "us", Dialled: "+15550101"},
			want: Decision{Kind: Extension, Extension: "1001", Number: "15550101"}},
		{name: "inbound DID in To only (registration trunk)", req: Request{Trunk: "us", Dialled: "carrieruser", To: "15550100"},
			want: Decision{Kind: Flow, Number: "15550100"}},
		{name: "inbound to an extension is no relay", req: Request{Trunk: "us", Dialled: "1001"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseNotFound}},
		{name: "inbound to an external number is no relay", req: Request{Trunk: "us", Dialled: "+4420123"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseNotFound}},
		{name: "inbound feature code is nothing", req: Request{Trunk: "us", Dialled: "*45"},
			want: Decision{Kind: Refuse, Status: 404, Reason: "Not Found", Cause: CauseNotFound}},
		{name: "an extension wins over its trunk identity", req: Request{User: "1002", Trunk: "us", Dialled: "+4420123"},
			want: Decision{Kind: Refuse, Status: 403, Reason: "Forbidden", Cause: CauseForbidden}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := table()
			if c.mod != nil {
				c.mod(tb)
			}
			got := Decide(tb, c.req, c.up)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decide(%+v)\n got %+v\nwant %+v", c.req, got, c.want)
			}
			checkInvariants(t, got)
		})
	}
}

func checkInvariants(t *testing.T, d Decision) {
	t.Helper()
	switch d.Kind {
	case Trunk, Emergency:
		if len(d.Trunks) == 0 {
			t.Errorf("%v without trunks", d.Kind)
		}
	case Refuse:
		if d.Status < 400 || d.Status > 699 || d.Reason == "" || d.Cause == "" {
			t.Errorf("bad refusal %+v", d)
		}
	default:
		if len(d.Trunks) != 0 {
			t.Errorf("%v with trunks", d.Kind)
		}
	}
}

// FuzzDecide: any request gives a valid decision, and no trunk call without an extension
// that has the outbound right (or an emergency number).
func FuzzDecide(f *testing.F) {
	f.Add("1001", "", "+15551234", "")
	f.Add("", "us", "+15550101", "1001")
	f.Add("1002", "us", "911", "")
	f.Fuzz(func(t *testing.T, user, trunk, dialled, to string) {
		tb := table()
		d := Decide(tb, Request{User: user, Trunk: trunk, Dialled: dialled, To: to}, nil)
		checkInvariants(t, d)
		if d.Kind == Trunk && !tb.Users[user].Outbound {
			t.Fatalf("trunk call for %q", user)
		}
		if d.Kind == Emergency && (user == "" || !tb.Emergency[dialled]) {
			t.Fatalf("emergency for %q/%q", user, dialled)
		}
	})
}

func TestDecideDanglingTarget(t *testing.T) {
	tb := table()
	tb.Numbers["15550199"] = Number{Target: "7777"}
	for _, req := range []Request{{User: "1002", Dialled: "15550199"}, {Trunk: "us", Dialled: "+15550199"}} {
		if d := Decide(tb, req, nil); d.Kind != Refuse || d.Status != 404 {
			t.Errorf("%+v: %+v", req, d)
		}
	}
}
