package channels

import (
	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/store"
)

// CRM is what the service needs from the operator's CRM lookup (center/crm.Client): the card
// of a customer, delivered later on another goroutine, or never when the lookup is slow,
// fails or finds nothing. Fetch must not block.
type CRM interface {
	Fetch(q crm.Query, deliver func(crm.Card))
}

// CRMCard is the CRM's answer pushed to the agent's desktop, for the offer of Conv or the
// incoming call CallID.
type CRMCard struct {
	Conv     string      `json:"conv,omitempty"`
	CallID   string      `json:"call_id,omitempty"`
	Customer string      `json:"customer,omitempty"`
	Fields   []crm.Field `json:"fields"`
}

// lookupOffer asks the CRM about the customer of conversation c, just offered to agent under
// reservation res; the answer goes to the offer and to the desktop. It only queues: the
// answer comes later, on another goroutine.
func (s *Service) lookupOffer(agent string, c store.Conversation, res uint64) {
	if s.crm == nil {
		return
	}
	q := crm.Query{Channel: c.Adapter, Handle: c.Address, Customer: c.Customer}
	if cu, ok, err := s.st.Customer(c.Customer); err == nil && ok {
		q.Customer = cu.ID
		q.Phone, q.Email = identity(cu, "phone"), identity(cu, "email")
	}
	if q.Phone == "" && (c.Adapter == "sms" || c.Adapter == "whatsapp") {
		q.Phone = Phone(c.Address)
	}
	s.crm.Fetch(q, func(card crm.Card) {
		s.offers.mu.Lock()
		if o, ok := s.offers.byConv[c.ID]; ok && o.Reservation == res {
			o.CRM = card.Fields
			s.offers.byConv[c.ID] = o
		}
		s.offers.mu.Unlock()
		s.hub.send(agent, AgentEvent{Type: "crm", CRM: &CRMCard{Conv: c.ID, Customer: q.Customer, Fields: card.Fields}})
	})
}

// lookupCall asks the CRM about the caller of a screen pop.
func (s *Service) lookupCall(agent string, pop *ScreenPop) {
	if s.crm == nil {
		return
	}
	q := crm.Query{Channel: "voice", Handle: pop.From, Phone: Phone(pop.From)}
	if pop.Customer != nil {
		q.Customer, q.Email = pop.Customer.ID, identity(*pop.Customer, "email")
	}
	s.crm.Fetch(q, func(card crm.Card) {
		s.hub.send(agent, AgentEvent{Type: "crm", CRM: &CRMCard{CallID: pop.CallID, Customer: q.Customer, Fields: card.Fields}})
	})
}

// identity returns the customer's first identity of kind, or "".
func identity(c store.Customer, kind string) string {
	for _, id := range c.Identities {
		if id.Kind == kind {
			return id.Value
		}
	}
	return ""
}
