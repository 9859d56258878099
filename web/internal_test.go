package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ccswitch/ccswitch/channels"
)

// TestDummyHashCost: the hash an unknown agent id is compared against has the cost most of
// the agents' hashes have (on main it had bcrypt's minimum: a timing oracle for agent ids).
func TestDummyHashCost(t *testing.T) {
	hash := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		name  string
		costs []int
		want  int
	}{
		{"no agents", nil, bcrypt.DefaultCost},
		{"all at the default", []int{10, 10}, 10},
		{"all at the minimum", []int{4, 4, 4}, 4},
		{"most at 6", []int{6, 6, 8}, 6},
		{"a tie takes the higher", []int{5, 7}, 7},
	} {
		var hs [][]byte
		for _, c := range tc.costs {
			hs = append(hs, hash(c))
		}
		hs = append(hs, nil, []byte("not a hash")) // agents without a password
		got, err := bcrypt.Cost(dummyHash(hs, nil))
		if err != nil || got != tc.want {
			t.Errorf("%s: dummy cost %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	old := hash(5)
	if got := dummyHash([][]byte{hash(5)}, old); string(got) != string(old) {
		t.Error("a reload with the same cost made a new dummy hash")
	}
}

// TestInternalErrorsNotEchoed: a 5xx answer carries its status text only; 4xx answers keep
// their message (it is about the client's own request).
func TestInternalErrorsNotEchoed(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{errors.New("store: read \"cust/x\": pebble: /var/lib/ccswitch/000123.sst: input/output error"), 500, "Internal Server Error"},
		{fmt.Errorf("channels: send: %w: dial tcp 10.0.0.7:443: connection refused", channels.ErrNoAdapter), 502, "Bad Gateway"},
		{fmt.Errorf("channels: conversation c1: %w", channels.ErrNotFound), 404, "channels: conversation c1: not found"},
	} {
		w := httptest.NewRecorder()
		s.fail(w, tc.err)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) || (tc.code >= 500 && strings.Contains(w.Body.String(), "10.0.0.7")) ||
			strings.Contains(w.Body.String(), "/var/lib") {
			t.Errorf("%v: %d %q", tc.err, w.Code, w.Body.String())
		}
	}
}
