package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// CallRecord is what ccswitch remembers of one call: who, which legs, when, and why it ended.
type CallRecord struct {
	ID        string    `json:"id"`      // ccswitch's own call id
	CallID    string    `json:"call_id"` // leg A's SIP Call-ID
	Direction string    `json:"dir"`     // internal, inbound (from a trunk), outbound (to a trunk)
	From      string    `json:"from"`    // caller: extension or number
	To        string    `json:"to"`      // dialled number or extension
	Trunk     string    `json:"trunk,omitempty"`
	Start     time.Time `json:"start"`
	Answer    time.Time `json:"answer,omitzero"`
	End       time.Time `json:"end"`
	// Code is the final SIP status of leg A (200 for an answered call) and Cause the reason the
	// call ended: "caller-bye", "callee-bye", "cancel", "busy", "no-answer", "rtp-timeout", …
	Code  int         `json:"code"`
	Cause string      `json:"cause"`
	Legs  []LegRecord `json:"legs,omitempty"`
	// Vars holds what an IVR flow learned (language, choices), for the customer timeline.
	Vars map[string]string `json:"vars,omitempty"`
	// Recording is the path of the call's WAV (or voicemail), if any.
	Recording string `json:"recording,omitempty"`
}

// LegRecord is one SIP leg of a call and its media statistics.
type LegRecord struct {
	Role    string    `json:"role"` // "a" (caller side) or "b" (callee side)
	CallID  string    `json:"call_id"`
	Peer    string    `json:"peer"` // the URI or contact the leg talked to
	Code    int       `json:"code"` // final response of this leg's INVITE
	Start   time.Time `json:"start"`
	Answer  time.Time `json:"answer,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Packets uint64    `json:"packets,omitempty"`
	Lost    uint64    `json:"lost,omitempty"`
	Jitter  float64   `json:"jitter_ms,omitempty"`
}

func cdrKey(start time.Time, id string) []byte {
	return fmt.Appendf(nil, "cdr/%016x/%s", uint64(start.UnixNano()), id)
}

// PutCallRecord stores r without waiting for a sync (invariant 2).
func (s *Store) PutCallRecord(r CallRecord) error {
	return s.put(cdrKey(r.Start, r.ID), r, false)
}

// CallRecords returns up to limit records that started at or after since, oldest first.
func (s *Store) CallRecords(since time.Time, limit int) ([]CallRecord, error) {
	var out []CallRecord
	lower := []byte("cdr/")
	if !since.IsZero() {
		lower = fmt.Appendf(nil, "cdr/%016x/", uint64(since.UnixNano()))
	}
	err := s.scan([]byte("cdr/"), func(key, val []byte) (bool, error) {
		if string(key) < string(lower) {
			return true, nil
		}
		var r CallRecord
		if err := json.Unmarshal(val, &r); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, r)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}
