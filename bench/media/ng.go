package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// The ng control protocol of rtpengine: "<cookie> <bencoded dictionary>" over UDP, the reply
// echoes the cookie. Only what offer/answer/delete need: strings, integers, lists, dicts.

func bencode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		fmt.Fprintf(b, "%d:%s", len(x), x)
	case []byte:
		fmt.Fprintf(b, "%d:", len(x))
		b.Write(x)
	case int:
		fmt.Fprintf(b, "i%de", x)
	case []any:
		b.WriteByte('l')
		for _, e := range x {
			bencode(b, e)
		}
		b.WriteByte('e')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('d')
		for _, k := range keys {
			bencode(b, k)
			bencode(b, x[k])
		}
		b.WriteByte('e')
	default:
		panic(fmt.Sprintf("bencode: %T", v))
	}
}

var errBencode = errors.New("bencode: malformed")

// bdecode returns the value at the start of b and the rest.
func bdecode(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errBencode
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, errBencode
		}
		n, err := strconv.Atoi(string(b[1:end]))
		return n, b[end+1:], err
	case c == 'l':
		var out []any
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			v, rest, err := bdecode(b)
			if err != nil {
				return nil, nil, err
			}
			out, b = append(out, v), rest
		}
		if len(b) == 0 {
			return nil, nil, errBencode
		}
		return out, b[1:], nil
	case c == 'd':
		out := map[string]any{}
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			k, rest, err := bdecode(b)
			if err != nil {
				return nil, nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, nil, errBencode
			}
			v, rest, err := bdecode(rest)
			if err != nil {
				return nil, nil, err
			}
			out[ks], b = v, rest
		}
		if len(b) == 0 {
			return nil, nil, errBencode
		}
		return out, b[1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, nil, errBencode
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || colon+1+n > len(b) {
			return nil, nil, errBencode
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	}
	return nil, nil, errBencode
}

// ngClient talks to one ng endpoint (rtpengine, or ccswitch's bench server).
type ngClient struct {
	conn   *net.UDPConn
	cookie atomic.Uint64
}

func dialNG(addr string) (*ngClient, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, err
	}
	return &ngClient{conn: c}, nil
}

// do sends one command and waits for its reply (3 tries, 2 s each).
func (c *ngClient) do(req map[string]any) (map[string]any, error) {
	cookie := strconv.FormatUint(c.cookie.Add(1), 10) + "_bench"
	var b bytes.Buffer
	b.WriteString(cookie + " ")
	bencode(&b, req)
	buf := make([]byte, 65536)
	for try := 0; try < 3; try++ {
		if _, err := c.conn.Write(b.Bytes()); err != nil {
			return nil, err
		}
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				break // timeout: retry
			}
			ck, body, ok := bytes.Cut(buf[:n], []byte(" "))
			if !ok || string(ck) != cookie {
				continue // a late reply to an earlier try
			}
			v, _, err := bdecode(body)
			if err != nil {
				return nil, err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errBencode
			}
			if m["result"] != "ok" && m["result"] != "pong" {
				return m, fmt.Errorf("ng %v: %v %v", req["command"], m["result"], m["error-reason"])
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("ng %v: no reply", req["command"])
}
