package webchat_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawWS is an attacker's WebSocket client: it writes frames byte by byte as RFC 6455 puts
// them and reads whatever the server sends, answering nothing on its own (no pong).
type rawWS struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// rawDial upgrades a TCP connection to srvURL's /chat/ws with extra request headers; on a
// refused upgrade it returns the HTTP status and a nil client.
func rawDial(t *testing.T, srvURL string, header map[string]string) (*rawWS, int) {
	t.Helper()
	host := strings.TrimPrefix(srvURL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET /chat/ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
	for k, v := range header {
		req += k + ": " + v + "\r\n"
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, resp.StatusCode
	}
	ws := &rawWS{t: t, conn: conn, r: r}
	t.Cleanup(func() { conn.Close() })
	return ws, resp.StatusCode
}

// writeFrame sends one masked frame (a client must mask).
func (w *rawWS) writeFrame(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 0x80|127), uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, len(payload))
	for i, b := range payload {
		body[i] = b ^ mask[i%4]
	}
	_, err := w.conn.Write(append(hdr, body...))
	return err
}

func (w *rawWS) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if err := w.writeFrame(0x1, b); err != nil {
		w.t.Fatal(err)
	}
}

// readFrame returns the next frame's opcode and payload.
func (w *rawWS) readFrame() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(w.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(w.r, p)
	return h[0] & 0x0f, p, err
}

// next returns the next text frame as JSON, skipping pings (unanswered) and pongs.
func (w *rawWS) next() map[string]any {
	w.t.Helper()
	for {
		op, p, err := w.readFrame()
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		switch op {
		case 0x9, 0xa:
			continue
		case 0x8:
			w.t.Fatalf("closed by the server: %v", closeOf(p))
		}
		var f map[string]any
		if err := json.Unmarshal(p, &f); err != nil {
			w.t.Fatalf("frame %q: %v", p, err)
		}
		return f
	}
}

// closeOf renders a close frame's payload.
func closeOf(p []byte) string {
	if len(p) < 2 {
		return "no status"
	}
	return fmt.Sprintf("%d %s", binary.BigEndian.Uint16(p), p[2:])
}

// untilClosed reads until the server closes; it returns the close frame's status and reason
// ("" when the TCP connection ended without one) and the pings seen on the way.
func (w *rawWS) untilClosed() (status string, pings int) {
	w.t.Helper()
	for {
		op, p, err := w.readFrame()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return "", pings
		}
		if err != nil {
			w.t.Fatalf("read: %v (the server did not close)", err)
		}
		switch op {
		case 0x8:
			return closeOf(p), pings
		case 0x9:
			pings++
		}
	}
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
