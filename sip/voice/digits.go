package voice

import (
	"context"
	"strings"
	"sync"
	"time"
)

// digitBuffer keeps the DTMF digits a caller typed and nobody consumed yet, so that digits
// typed between two prompts, or during a prompt that let them barge in, are not lost (the
// ivr.Interaction contract for Collect). One goroutine pumps the call's media DTMF() channel
// into it; Play and Collect take from it.
type digitBuffer struct {
	mu     sync.Mutex
	buf    []byte
	notify chan struct{} // closed and replaced on each push
	max    int
}

func newDigitBuffer() *digitBuffer {
	return &digitBuffer{notify: make(chan struct{}), max: 64}
}

// push appends a digit (the oldest is dropped when the buffer holds max digits).
func (b *digitBuffer) push(d byte) {
	b.mu.Lock()
	if len(b.buf) >= b.max {
		b.buf = b.buf[1:]
	}
	b.buf = append(b.buf, d)
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
}

// pop takes the oldest digit, if any, and returns the channel that is closed on the next push.
func (b *digitBuffer) pop() (byte, bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return 0, false, b.notify
	}
	d := b.buf[0]
	b.buf = b.buf[1:]
	return d, true, nil
}

// clear discards every buffered digit.
func (b *digitBuffer) clear() {
	b.mu.Lock()
	b.buf = b.buf[:0]
	b.mu.Unlock()
}

// len is the number of buffered digits.
func (b *digitBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// wait returns a channel closed when a digit is (or already was) available.
func (b *digitBuffer) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return b.notify
}

// collect gathers digits: it returns at maxDigits digits (0: no limit), at the terminator
// (not included), or when timeout passes after the last digit (or after the start, with none
// yet). gone ends the wait early with errGone (the caller hung up); ctx with ctx.Err(). Digits
// after the ones returned stay buffered.
func (b *digitBuffer) collect(ctx context.Context, gone <-chan struct{}, maxDigits int, terminator string, timeout time.Duration) (string, error) {
	var got strings.Builder
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		d, ok, more := b.pop()
		if ok {
			if terminator != "" && strings.IndexByte(terminator, d) >= 0 {
				return got.String(), nil
			}
			got.WriteByte(d)
			if maxDigits > 0 && got.Len() >= maxDigits {
				return got.String(), nil
			}
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(timeout)
			continue
		}
		select {
		case <-more:
		case <-t.C:
			return got.String(), nil
		case <-gone:
			return got.String(), errGone
		case <-ctx.Done():
			return got.String(), ctx.Err()
		}
	}
}
