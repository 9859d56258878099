package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/ccswitch/ccswitch/media"
)

// serve runs ccswitch's media engine behind the same ng commands rtpengine speaks (offer,
// answer, delete, ping), so one generator drives both relays identically. offer is
// Call.OfferFromA, answer is Call.AnswerFromB, delete is Call.Close.
func serve(addr string, portMin, portMax int) error {
	if path := os.Getenv("BENCH_MEDIA_CPUPROFILE"); path != "" { // profile the relay process
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	eng, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: portMin, PortMax: portMax, ReadBuffer: 1 << 20})
	if err != nil {
		return err
	}
	defer eng.Close()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return err
	}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		conn.Close()
	}()
	calls := map[string]*media.Call{}
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		cookie, body, ok := bytes.Cut(buf[:n], []byte(" "))
		if !ok {
			continue
		}
		v, _, err := bdecode(body)
		req, _ := v.(map[string]any)
		resp := map[string]any{"result": "ok"}
		if err != nil || req == nil {
			resp = map[string]any{"result": "error", "error-reason": "bad request"}
		} else if e := handleNG(eng, calls, req, resp); e != nil {
			resp = map[string]any{"result": "error", "error-reason": e.Error()}
		}
		var out bytes.Buffer
		out.Write(cookie)
		out.WriteByte(' ')
		bencode(&out, resp)
		conn.WriteToUDPAddrPort(out.Bytes(), from)
	}
}

func handleNG(eng *media.Engine, calls map[string]*media.Call, req, resp map[string]any) error {
	id, _ := req["call-id"].(string)
	sdp, _ := req["sdp"].(string)
	switch req["command"] {
	case "ping":
		resp["result"] = "pong"
	case "offer":
		c := calls[id]
		if c == nil {
			var err error
			if c, err = eng.NewCall(media.CallOptions{ID: id}); err != nil {
				return err
			}
			calls[id] = c
		}
		out, err := c.OfferFromA([]byte(sdp))
		if err != nil {
			return err
		}
		resp["sdp"] = string(out)
	case "answer":
		c := calls[id]
		if c == nil {
			return fmt.Errorf("unknown call %q", id)
		}
		out, err := c.AnswerFromB([]byte(sdp))
		if err != nil {
			return err
		}
		resp["sdp"] = string(out)
	case "delete":
		if c := calls[id]; c != nil {
			c.Close()
			delete(calls, id)
		}
	default:
		return fmt.Errorf("unknown command %v", req["command"])
	}
	return nil
}

func init() { log.SetFlags(0) }
