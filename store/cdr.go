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

	// Flow is the flow the call ran (a number with a flow), "" for a call bridged directly.
	Flow string `json:"flow,omitempty"`
	// Parent, on the SIP side's record of a leg ccswitch dialled for another call (an agent
	// rung for a queued caller), is that call's ID: the leg is folded into its record.
	Parent string `json:"parent,omitempty"`
	// Queue is the last queue the caller waited in and Agent who answered; WaitMs is the time
	// spent waiting in queues, TalkMs from the agent's answer to the end of the task, WrapUpMs
	// the agent's wrap-up after it.
	Queue    string `json:"queue,omitempty"`
	Agent    string `json:"agent,omitempty"`
	WaitMs   int64  `json:"wait_ms,omitempty"`
	TalkMs   int64  `json:"talk_ms,omitempty"`
	WrapUpMs int64  `json:"wrapup_ms,omitempty"`
	// Disposition is how the call ended for the contact center: "answered" (by an agent, or
	// by the callee of a direct call), "abandoned" (left while waiting), "timed-out",
	// "transferred", "unavailable" (closed or nobody logged in), "hangup" (the flow ended
	// it), "failed", or for a direct call that was not answered its Cause.
	Disposition string `json:"disposition,omitempty"`
	// Monitoring is what supervisors did on the call, one entry per stretch in one mode, in
	// order: a supervisor who listens, then whispers, then leaves has two.
	Monitoring []MonitorRecord `json:"monitoring,omitempty"`
}

// MonitorRecord is a supervisor's stretch on a live call in one mode.
type MonitorRecord struct {
	Supervisor string    `json:"supervisor"` // the supervisor's agent ID
	Agent      string    `json:"agent"`      // the agent monitored
	Mode       string    `json:"mode"`       // listen, whisper or barge
	Via        string    `json:"via"`        // "phone" (feature code) or "desktop" (the wallboard called them)
	Joined     time.Time `json:"joined"`
	Left       time.Time `json:"left"`
}

// LegRecord is one SIP leg of a call and its media statistics.
type LegRecord struct {
	Role   string    `json:"role"` // "a" (caller side) or "b" (callee side)
	CallID string    `json:"call_id"`
	Peer   string    `json:"peer"` // the URI or contact the leg talked to
	Code   int       `json:"code"` // final response of this leg's INVITE
	Start  time.Time `json:"start"`
	Answer time.Time `json:"answer,omitzero"`
	End    time.Time `json:"end,omitzero"`
	// Packets are the RTP packets received from the peer, Lost those it sent that never
	// arrived (RFC 3550 §A.3), Jitter its interarrival jitter in milliseconds (§6.4.1).
	Packets uint64  `json:"packets,omitempty"`
	Lost    uint64  `json:"lost,omitempty"`
	Jitter  float64 `json:"jitter_ms,omitempty"`
}

func cdrKey(start time.Time, id string) []byte {
	return fmt.Appendf(nil, "cdr/%016x/%s", uint64(start.UnixNano()), id)
}

// PutCallRecord stores r, durably (invariant 1: the operator is promised every record).
func (s *Store) PutCallRecord(r CallRecord) error {
	return s.put(cdrKey(r.Start, r.ID), r, true)
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
