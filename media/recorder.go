package media

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
)

// recFrame is one payload handed from the relay to the recorder (copied by value: no
// allocation on the relay side).
type recFrame struct {
	ch    uint8 // 0: audio from the caller (leg A); 1: audio sent to the caller
	codec Codec
	n     uint16
	data  [480]byte
}

// recorder writes a stereo 8 kHz 16-bit WAV: left = what the caller says, right = what the
// caller hears (the callee, or prompts and hold music). It runs in its own goroutine fed by a
// bounded channel; when the channel is full the relay drops the frame and counts it
// (invariant 6).
type recorder struct {
	f       *os.File
	ch      chan recFrame
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	err     error
}

const (
	recQueue = 512         // frames (~5 s of both directions)
	recSkew  = 8000 / 5    // 200 ms: one side this far ahead means the other is silent
	recFlush = 8000 / 1000 // nothing smaller is written
)

// StartRecording records the call to a new WAV file at path until StopRecording or Close.
func (c *Call) StartRecording(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("media: start recording: %w", err)
	}
	if _, err := f.Write(wavHeader(2, 0)); err != nil {
		f.Close()
		return fmt.Errorf("media: start recording: %w", err)
	}
	r := &recorder{f: f, ch: make(chan recFrame, recQueue), stop: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		f.Close()
		os.Remove(path)
		return ErrClosed
	}
	if !c.rec.CompareAndSwap(nil, r) {
		c.mu.Unlock()
		f.Close()
		os.Remove(path)
		return fmt.Errorf("media: start recording: already recording")
	}
	c.mu.Unlock()
	go r.run()
	return nil
}

// StopRecording finishes the WAV (header sizes) and closes it; it returns the first write error.
func (c *Call) StopRecording() error {
	r := c.rec.Swap(nil)
	if r == nil {
		return nil
	}
	close(r.stop)
	<-r.done
	return r.err
}

// tapRecord copies a payload to the recorder without blocking.
func (c *Call) tapRecord(ch uint8, codec Codec, payload []byte, _ int64) {
	r := c.rec.Load()
	if r == nil {
		return
	}
	var fr recFrame
	fr.ch, fr.codec = ch, codec
	fr.n = uint16(copy(fr.data[:], payload))
	select {
	case r.ch <- fr:
	default:
		r.dropped.Add(1)
	}
}

func (r *recorder) run() {
	defer close(r.done)
	w := bufio.NewWriterSize(r.f, 32<<10)
	var q [2][]int16
	var scratch [480]int16
	var written uint32
	out := make([]byte, 0, 4096)
	write := func(final bool) {
		for i := 0; i < 2; i++ { // one side far ahead: the other is silent (hold, one-way)
			if o := 1 - i; len(q[i]) > recSkew+len(q[o]) || final {
				for len(q[o]) < len(q[i]) {
					q[o] = append(q[o], 0)
				}
			}
		}
		n := min(len(q[0]), len(q[1]))
		if n < recFlush && !final {
			return
		}
		out = out[:0]
		for k := 0; k < n; k++ {
			out = binary.LittleEndian.AppendUint16(out, uint16(q[0][k]))
			out = binary.LittleEndian.AppendUint16(out, uint16(q[1][k]))
		}
		if _, err := w.Write(out); err != nil && r.err == nil {
			r.err = err
		}
		written += uint32(len(out))
		q[0] = append(q[0][:0], q[0][n:]...)
		q[1] = append(q[1][:0], q[1][n:]...)
	}
	add := func(fr *recFrame) {
		pcm := decode(scratch[:], fr.data[:fr.n], fr.codec)
		q[fr.ch] = append(q[fr.ch], pcm...)
		write(false)
	}
	for {
		select {
		case fr := <-r.ch:
			add(&fr)
			continue
		case <-r.stop:
		}
		for drained := false; !drained; {
			select {
			case fr := <-r.ch:
				add(&fr)
			default:
				drained = true
			}
		}
		write(true)
		break
	}
	if err := w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	if _, err := r.f.WriteAt(wavHeader(2, written), 0); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		r.err = fmt.Errorf("media: recording: %w", r.err)
	}
}
