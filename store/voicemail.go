package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Voicemail is a message a waiting caller left to a queue: a queued contact like a callback,
// whose audio is a WAV in the recordings folder. It is written (synced, invariant 1: the caller
// was told the message is taken) before the caller hears the confirmation, and deleted only
// when the agent who took it completed it; a restart in between queues it again.
type Voicemail struct {
	Task      string            `json:"task"`     // the ACD task ("<call>#vm")
	Queue     string            `json:"queue"`    // where it waits
	Priority  int               `json:"priority"` // the task's priority
	Reqs      []string          `json:"reqs,omitempty"`
	From      string            `json:"from"` // the caller's presented number
	DID       string            `json:"did"`  // the number the caller dialled
	Language  string            `json:"language,omitempty"`
	Vars      map[string]string `json:"vars,omitempty"`
	Recorded  time.Time         `json:"recorded"` // when the message started
	Length    time.Duration     `json:"length"`
	Recording string            `json:"recording"` // the WAV's path
}

func voicemailKey(task string) []byte { return []byte("vmail/" + task) }

// PutVoicemail writes a message to a queue, synced (the caller was told it is taken).
func (s *Store) PutVoicemail(v Voicemail) error { return s.put(voicemailKey(v.Task), v, true) }

// DeleteVoicemail forgets a message (its agent completed it).
func (s *Store) DeleteVoicemail(task string) error { return s.del(voicemailKey(task)) }

// Voicemails returns every message not completed yet, oldest recorded first.
func (s *Store) Voicemails() ([]Voicemail, error) {
	var out []Voicemail
	err := s.scan([]byte("vmail/"), func(key, val []byte) (bool, error) {
		var v Voicemail
		if err := json.Unmarshal(val, &v); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, v)
		return true, nil
	})
	slices.SortStableFunc(out, func(a, b Voicemail) int { return a.Recorded.Compare(b.Recorded) })
	return out, err
}
