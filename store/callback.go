package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Callback is a caller who asked to be called back instead of waiting on the line: the ACD
// task keeps its place while this record says who to call, from which number and trunk, and
// how the attempts went. It is written (synced, invariant 1: the caller was told "we will call
// you back") when the caller accepts, updated after each attempt, and deleted when the
// callback is made or given up.
type Callback struct {
	Task     string            `json:"task"`     // the ACD task (the call's ID)
	Queue    string            `json:"queue"`    // where it waits
	Priority int               `json:"priority"` // the task's priority when it was accepted
	Reqs     []string          `json:"reqs,omitempty"`
	Number   string            `json:"number"` // the number to call back
	Source   string            `json:"source"` // presented, keyed, verified
	DID      string            `json:"did"`    // the number the caller dialled: the callback's caller ID
	Trunk    string            `json:"trunk"`  // the trunk the call came in on ("" for an extension)
	Language string            `json:"language,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	Enqueued time.Time         `json:"enqueued"` // when the caller first entered the queue
	Accepted time.Time         `json:"accepted"` // when the caller accepted the callback
	Attempts int               `json:"attempts"`
	// NotBefore delays the next attempt (retry_after after a failed one, or the next opening
	// of the number's hours).
	NotBefore  time.Time     `json:"not_before,omitempty"`
	Retries    int           `json:"retries"`
	RetryAfter time.Duration `json:"retry_after"`
	Preview    time.Duration `json:"preview"`
	LastError  string        `json:"last_error,omitempty"`
}

func callbackKey(task string) []byte { return []byte("callback/" + task) }

func callbackCapKey(day, number string) []byte {
	return []byte("cbcap/" + day + "\x00" + number)
}

// PutCallback writes a callback, synced (the caller was promised it).
func (s *Store) PutCallback(c Callback) error { return s.put(callbackKey(c.Task), c, true) }

// DeleteCallback forgets a callback (made or given up).
func (s *Store) DeleteCallback(task string) error { return s.del(callbackKey(task)) }

// Callbacks returns every pending callback, oldest accepted first.
func (s *Store) Callbacks() ([]Callback, error) {
	var out []Callback
	err := s.scan([]byte("callback/"), func(key, val []byte) (bool, error) {
		var c Callback
		if err := json.Unmarshal(val, &c); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, c)
		return true, nil
	})
	sortByEnqueued(out)
	return out, err
}

func sortByEnqueued(cs []Callback) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Enqueued.Before(cs[j-1].Enqueued); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// TakeCallbackCap counts one callback promised to number on day ("2006-01-02") and reports
// whether it stayed within max (max ≤ 0: no cap). Over the cap nothing is counted. The count
// is synced: a restart must not reset a number's cap.
func (s *Store) TakeCallbackCap(day, number string, max int) (bool, error) {
	var n int
	if _, err := s.get(callbackCapKey(day, number), &n); err != nil {
		return false, err
	}
	if max > 0 && n >= max {
		return false, nil
	}
	return true, s.put(callbackCapKey(day, number), n+1, true)
}
