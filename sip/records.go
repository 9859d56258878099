package sip

import (
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/store"
)

// CallRecorder receives the record of every call the B2BUA ends, its legs' media figures
// filled in (center.Center joins it with what the voice path and the ACD know of the call,
// then stores and exports it).
type CallRecorder interface {
	CallEnded(rec store.CallRecord)
}

// WithCallRecorder hands call records to r (default: they are written to the store as they
// are).
func WithCallRecorder(r CallRecorder) Option { return func(s *Server) { s.recorder = r } }

// mediaStatser is the part of an SDPAnchor that knows a call's media figures (sip/anchor).
type mediaStatser interface {
	Stats(callID string) (media.Stats, bool)
}

// withMedia fills rec's legs with the media figures of call id, read from the anchor before
// it releases the call: leg a is the caller's side, leg b the callee's.
func (s *Server) withMedia(id string, rec *store.CallRecord) {
	ms, ok := s.anchor.(mediaStatser)
	if !ok {
		return
	}
	st, ok := ms.Stats(id)
	if !ok {
		return
	}
	for i := range rec.Legs {
		l := &rec.Legs[i]
		ls := st.A
		if l.Role == string(SideB) {
			ls = st.B
		}
		l.Packets, l.Lost = ls.PacketsIn, ls.Lost
		l.Jitter = float64(ls.Jitter.Microseconds()) / 1000
	}
}

// record hands a finished call's record on.
func (s *Server) record(rec store.CallRecord) {
	if s.recorder != nil {
		s.recorder.CallEnded(rec)
		return
	}
	if s.st != nil {
		if err := s.st.PutCallRecord(rec); err != nil {
			s.log.Warn("call record not written", "call_id", rec.ID, "error", err)
		}
	}
}
