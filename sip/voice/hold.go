package voice

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
)

// place follows a waiting caller's position: the position at entry, less the contacts that
// left the queue since (answered, abandoned, timed out, overflowed, transferred out), never
// more than the contacts waiting or offered now and never less than 1. The engine does not
// publish a task's rank; contacts behind the caller that leave make this optimistic, which
// the cap by the queue's size bounds.
type place struct {
	queue string
	entry int   // position at entry
	left0 int64 // departures at entry
}

func departures(q acd.QueueStats) int64 {
	return q.Answered + q.Abandoned + q.TimedOut + q.Overflowed + q.Transferred
}

func (c *call) newPlace(queue string) place {
	p := place{queue: queue, entry: 1}
	if qs, ok := c.a.center.Snapshot().Queue(queue); ok {
		p.entry += qs.Waiting + qs.Reserved
		p.left0 = departures(qs)
	}
	return p
}

func (c *call) position(p place) int {
	qs, ok := c.a.center.Snapshot().Queue(p.queue)
	if !ok {
		return p.entry
	}
	pos := p.entry - int(departures(qs)-p.left0)
	if n := qs.Waiting + qs.Reserved; pos > n {
		pos = n
	}
	return max(pos, 1)
}

// holdPrompt plays one hold prompt to the caller; false when the hold must stop (ctx ended
// or the caller left). A missing prompt is skipped.
func (c *call) holdPrompt(ctx context.Context, lang, name string) bool {
	p, err := c.st.prompts.load(name, lang, c.lang)
	if err != nil {
		c.log.Debug("hold prompt missing", "prompt", name, "error", err)
		return ctx.Err() == nil
	}
	if f := c.a.opts.OnPrompt; f != nil {
		f(c.id, name)
	}
	_, err = c.mc.Play(ctx, media.LegA, p, media.PlayOptions{})
	return err == nil && ctx.Err() == nil
}

// announce says the caller's position and, when the center has an honest estimate, the
// expected wait rounded up to whole minutes ("less than a minute" under one).
func (c *call) announce(ctx context.Context, q ivr.QueueRequest, p place, first bool) bool {
	lang := q.Language
	if first && !c.holdPrompt(ctx, lang, "please-hold") {
		return false
	}
	pos := c.position(p)
	if !c.holdPrompt(ctx, lang, "you-are-caller") || !c.digitsPrompt(ctx, lang, pos) || !c.holdPrompt(ctx, lang, "in-queue") {
		return false
	}
	ewt, ok := c.a.center.ExpectedWait(q.Queue, acd.Voice, pos)
	if !ok {
		return true // no honest estimate: say nothing
	}
	if ewt < time.Minute {
		return c.holdPrompt(ctx, lang, "less-than-a-minute")
	}
	mins := int((ewt + time.Minute - 1) / time.Minute)
	return c.holdPrompt(ctx, lang, "expected-wait") && c.digitsPrompt(ctx, lang, mins) && c.holdPrompt(ctx, lang, "minutes")
}

func (c *call) digitsPrompt(ctx context.Context, lang string, n int) bool {
	for _, d := range strconv.Itoa(n) {
		if !c.holdPrompt(ctx, lang, "digit-"+string(d)) {
			return false
		}
	}
	return true
}

// offers plays the waiting caller's options (callback, voicemail) that are due; offered
// is set first, so that a key pressed during the prompt counts (barge-in: Enqueue stops the
// hold when it takes the key).
func (c *call) offers(ctx context.Context, q ivr.QueueRequest, since time.Duration, offered *offerState) bool {
	lang := q.Language
	if cb := q.Callback; cb != nil && since >= cb.After.D() {
		offered.callback.Store(true)
		if !c.holdPrompt(ctx, lang, cb.Prompt) {
			return false
		}
	}
	if vm := q.Voicemail; vm != nil && since >= vm.After.D() {
		offered.voicemail.Store(true)
		if !c.holdPrompt(ctx, lang, vm.Prompt) {
			return false
		}
	}
	return true
}

// offerState says which options the caller was offered (their keys count from then on).
type offerState struct {
	callback, voicemail atomic.Bool
}

// firstOffer is when the first option is due (-1: none).
func firstOffer(q ivr.QueueRequest) time.Duration {
	first := time.Duration(-1)
	if q.Callback != nil {
		first = q.Callback.After.D()
	}
	if q.Voicemail != nil && (first < 0 || q.Voicemail.After.D() < first) {
		first = q.Voicemail.After.D()
	}
	return first
}

func afterOf(q ivr.QueueRequest, callback bool) time.Duration {
	if callback {
		return q.Callback.After.D()
	}
	return q.Voicemail.After.D()
}

// hold plays, while the caller waits: "please hold", the position and expected wait (with
// Announce), then hold music; every AnnounceEvery the position and wait again, and from
// the options' after the callback and voicemail offers (again after each announcement).
func (c *call) hold(ctx context.Context, q ivr.QueueRequest, p place, offered *offerState) {
	start := time.Now()
	if q.Announce && !c.announce(ctx, q, p, true) {
		return
	}
	var music *media.Prompt
	var err error
	if f := c.st.holdMusic; f != "" {
		music, err = media.LoadWAV(f)
	} else {
		music, err = c.st.prompts.loadFile("hold-music.wav")
	}
	if err != nil {
		c.log.Warn("no hold music", "error", err)
	}
	every := time.Duration(0)
	if q.Announce {
		every = q.AnnounceEvery
	}
	nextAnnounce := time.Time{}
	if every > 0 {
		nextAnnounce = start.Add(every)
	}
	nextOffer := time.Time{}
	if d := firstOffer(q); d >= 0 {
		nextOffer = start.Add(d)
	}
	for {
		next := nextAnnounce
		if next.IsZero() || !nextOffer.IsZero() && nextOffer.Before(next) {
			next = nextOffer
		}
		mctx, stop := ctx, context.CancelFunc(func() {})
		if !next.IsZero() {
			mctx, stop = context.WithDeadline(ctx, next)
		}
		if music != nil {
			c.mc.Play(mctx, media.LegA, music, media.PlayOptions{Loop: true})
		} else {
			<-mctx.Done()
		}
		stop()
		if ctx.Err() != nil || next.IsZero() {
			return
		}
		now := time.Now()
		if !nextAnnounce.IsZero() && !now.Before(nextAnnounce) {
			if !c.announce(ctx, q, p, false) {
				return
			}
			nextAnnounce = nextAnnounce.Add(every)
			for !nextAnnounce.After(time.Now()) {
				nextAnnounce = nextAnnounce.Add(every)
			}
			if offered.callback.Load() || offered.voicemail.Load() {
				if !c.offers(ctx, q, time.Since(start), offered) {
					return
				}
			}
		}
		if !nextOffer.IsZero() && !time.Now().Before(nextOffer) {
			if !c.offers(ctx, q, time.Since(start), offered) {
				return
			}
			// An option due later than the first is offered when its time comes.
			nextOffer = time.Time{}
			for _, set := range []bool{true, false} {
				if (set && q.Callback == nil) || (!set && q.Voicemail == nil) {
					continue
				}
				at := start.Add(afterOf(q, set))
				if at.After(time.Now()) && (nextOffer.IsZero() || at.Before(nextOffer)) {
					nextOffer = at
				}
			}
			// Without announcements the offers repeat once a minute.
			if nextOffer.IsZero() && every == 0 {
				nextOffer = time.Now().Add(time.Minute)
			}
		}
	}
}
