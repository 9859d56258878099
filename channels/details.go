package channels

// TaskDetails describes a conversation for the signed event webhooks (center/hook.Details):
// its adapter, customer, entry queue and, once closed, its wrap-up code. Tasks that are not
// conversations (calls) get nil.
func (s *Service) TaskDetails(task string) map[string]string {
	c, ok, err := s.st.Conversation(task)
	if err != nil || !ok {
		return nil
	}
	d := map[string]string{"adapter": c.Adapter, "customer": c.Customer, "state": string(c.State)}
	if c.WrapUp != "" {
		d["wrapup"] = c.WrapUp
	}
	if c.Subject != "" {
		d["subject"] = c.Subject
	}
	return d
}
