package channels

import "fmt"

// SetChannels takes new adapter settings (a SIGHUP reload): conversations that start from now
// on use the new routes (queue, entry, greeting, priority); conversations in progress keep
// their queue and their place. An entry must name a number of the center's flows (reload the
// center first).
func (s *Service) SetChannels(c Config) error {
	if err := s.checkEntries(&c); err != nil {
		return err
	}
	s.chans.Store(&c)
	return nil
}

// checkEntries verifies that every adapter's entry names a number of the center's flows.
func (s *Service) checkEntries(c *Config) error {
	flows := s.cc.Flows()
	for _, a := range adapterNames {
		e := c.Route(a).Entry
		if e == "" {
			continue
		}
		if flows == nil {
			return fmt.Errorf("channels: %s: entry %q but no compiled flows: %w", a, e, ErrBadInput)
		}
		if _, ok := flows.Entry(e); !ok {
			return fmt.Errorf("channels: %s: entry %q is not a configured number: %w", a, e, ErrBadInput)
		}
	}
	return nil
}

// adapterNames are the adapters' names, as their Name methods return them.
var adapterNames = []string{"webchat", "sms", "whatsapp", "messenger", "telegram", "email"}

// RemoveAdapter forgets the adapter named name (its section left the configuration): replies
// in its conversations fail with ErrNoAdapter, shown in the timeline, until it comes back.
func (s *Service) RemoveAdapter(name string) {
	s.adMu.Lock()
	delete(s.adapters, name)
	s.adMu.Unlock()
}
