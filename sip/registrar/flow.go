package registrar

// RemoveFlow drops a binding whose flow (the TCP or TLS connection its REGISTER came on,
// named by that connection's source address) closed, but only while the binding still
// belongs to that flow: a phone that re-registered the same contact over a new connection
// keeps it. It emits Unbound with reason (ReasonFlowClosed) and reports whether a binding
// was removed.
func (r *Registrar) RemoveFlow(aor, contact, source, reason string) bool {
	sh := r.shard(aor)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.aor[aor]
	for i, c := range list {
		if c.Contact != contact || c.Source != source {
			continue
		}
		if err := r.deleteStored(aor, contact); err != nil {
			r.log.Warn("remove binding: store", "aor", aor, "error", err)
		}
		list = append(list[:i], list[i+1:]...)
		if len(list) == 0 {
			delete(sh.aor, aor)
		} else {
			sh.aor[aor] = list
		}
		now := r.now()
		r.emit(Unbound, reason, aor, c, live(list, now), now)
		return true
	}
	return false
}
