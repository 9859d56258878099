package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sippStats is the last line of a SIPp statistics file (-trace_stat -stf FILE), cumulative
// columns only.
type sippStats struct {
	Created       int           // TotalCallCreated
	Current       int           // CurrentCall: calls still open when the line was written
	Success       int           // SuccessfulCall(C)
	Failed        int           // FailedCall(C)
	Retrans       int           // Retransmissions(C): retransmissions SIPp sent
	Unexpected    int           // FailedUnexpectedMessage(C)
	MaxUDPRetrans int           // FailedMaxUDPRetrans(C)
	RecvTimeout   int           // FailedTimeoutOnRecv(C)
	Rejected      int           // FailedCallRejected(C)
	OutOfCall     int           // OutOfCallMsgs(C)
	DeadCall      int           // DeadCallMsgs(C): messages for calls SIPp already ended
	Watchdog      int           // WatchdogMajor(C)+WatchdogMinor(C): SIPp's own loop overran
	Elapsed       time.Duration // ElapsedTime(C)
	RTMean        time.Duration // ResponseTime1(C): mean of the first RTD
}

// parseStatCSV reads a SIPp statistics file and returns its last line. SIPp writes one header
// line and then a line every -fd period plus one at exit; fields are ';'-separated.
func parseStatCSV(r io.Reader) (sippStats, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var header, last []string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		f := strings.Split(line, ";")
		if header == nil {
			header = f
			continue
		}
		last = f
	}
	if err := sc.Err(); err != nil {
		return sippStats{}, fmt.Errorf("sipp stat: %w", err)
	}
	if header == nil || last == nil {
		return sippStats{}, errors.New("sipp stat: no data line")
	}
	col := map[string]string{}
	for i, h := range header {
		if i < len(last) {
			col[h] = last[i]
		}
	}
	var errs []error
	num := func(names ...string) int {
		n := 0
		for _, name := range names {
			v, ok := col[name]
			if !ok {
				errs = append(errs, fmt.Errorf("sipp stat: no column %q", name))
				continue
			}
			i, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("sipp stat: column %q: %w", name, err))
				continue
			}
			n += i
		}
		return n
	}
	dur := func(name string) time.Duration {
		d, err := parseSippDuration(col[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("sipp stat: column %q: %w", name, err))
		}
		return d
	}
	s := sippStats{
		Created:       num("TotalCallCreated"),
		Current:       num("CurrentCall"),
		Success:       num("SuccessfulCall(C)"),
		Failed:        num("FailedCall(C)"),
		Retrans:       num("Retransmissions(C)"),
		Unexpected:    num("FailedUnexpectedMessage(C)"),
		MaxUDPRetrans: num("FailedMaxUDPRetrans(C)"),
		RecvTimeout:   num("FailedTimeoutOnRecv(C)"),
		Rejected:      num("FailedCallRejected(C)"),
		OutOfCall:     num("OutOfCallMsgs(C)"),
		DeadCall:      num("DeadCallMsgs(C)"),
		Watchdog:      num("WatchdogMajor(C)", "WatchdogMinor(C)"),
		Elapsed:       dur("ElapsedTime(C)"),
		RTMean:        dur("ResponseTime1(C)"),
	}
	return s, errors.Join(errs...)
}

// parseSippDuration parses SIPp's "HH:MM:SS" and "HH:MM:SS:uuuuuu" forms.
func parseSippDuration(s string) (time.Duration, error) {
	p := strings.Split(s, ":")
	if len(p) != 3 && len(p) != 4 {
		return 0, fmt.Errorf("duration %q: want HH:MM:SS[:micro]", s)
	}
	var n [4]int64
	for i, f := range p {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		n[i] = v
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Microsecond, nil
}

// parseRTT reads a SIPp response-time file (-trace_rtt -rtt_freq 1): a header
// "Date_ms;response_time_ms;rtd_no", then one line per measured call. It returns the response
// times of RTD rtd in milliseconds, in file order.
func parseRTT(r io.Reader, rtd int) ([]float64, error) {
	v, _, err := parseRTTDated(r, rtd)
	return v, err
}

// parseRTTDated is parseRTT with each sample's date (ms since SIPp started).
func parseRTTDated(r io.Reader, rtd int) (v, dates []float64, err error) {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "Date_ms") {
			continue
		}
		f := strings.Split(t, ";")
		if len(f) < 3 {
			return v, dates, fmt.Errorf("sipp rtt line %d: %d fields, want 3", line, len(f))
		}
		no, err := strconv.Atoi(f[2])
		if err != nil {
			return v, dates, fmt.Errorf("sipp rtt line %d: rtd_no: %w", line, err)
		}
		if no != rtd {
			continue
		}
		x, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return v, dates, fmt.Errorf("sipp rtt line %d: response_time_ms: %w", line, err)
		}
		d, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return v, dates, fmt.Errorf("sipp rtt line %d: Date_ms: %w", line, err)
		}
		v, dates = append(v, x), append(dates, d)
	}
	return v, dates, sc.Err()
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of v, which it sorts; NaN
// when v is empty.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	if !sort.Float64sAreSorted(v) {
		sort.Float64s(v)
	}
	rank := int(math.Ceil(p / 100 * float64(len(v))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(v) {
		rank = len(v)
	}
	return v[rank-1]
}

// readStatFile and readRTTFile open and parse the files SIPp wrote.
func readStatFile(path string) (sippStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return sippStats{}, err
	}
	defer f.Close()
	return parseStatCSV(f)
}

func readRTTFile(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseRTT(f, 1)
}
