// Package mw is the twin's HTTP plumbing shared by every service: routing by
// Go ServeMux patterns, per-route call counting, injected faults and gzip
// request bodies. Each service keeps its own error shape through ErrorWriter.
package mw

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrorWriter writes an error in a service's own shape.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, code, msg string)

// RouteStats counts the calls of one route and method.
type RouteStats struct {
	Calls     int64         `json:"calls"`
	Throttled int64         `json:"throttled"`
	Status    map[int]int64 `json:"status"`
}

// Stats is the per-route, per-method call record.
type Stats struct {
	mu sync.Mutex
	m  map[string]*RouteStats
}

// NewStats returns an empty record.
func NewStats() *Stats { return &Stats{m: map[string]*RouteStats{}} }

func (s *Stats) add(key string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.m[key]
	if rs == nil {
		rs = &RouteStats{Status: map[int]int64{}}
		s.m[key] = rs
	}
	rs.Calls++
	rs.Status[status]++
	if status == http.StatusTooManyRequests {
		rs.Throttled++
	}
}

// Snapshot copies the record, keyed "METHOD /path/{pattern}".
func (s *Stats) Snapshot() map[string]RouteStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]RouteStats, len(s.m))
	for k, v := range s.m {
		c := *v
		c.Status = make(map[int]int64, len(v.Status))
		for code, n := range v.Status {
			c.Status[code] = n
		}
		out[k] = c
	}
	return out
}

// Reset clears the record.
func (s *Stats) Reset() {
	s.mu.Lock()
	s.m = map[string]*RouteStats{}
	s.mu.Unlock()
}

// Fault is an injected misbehaviour. Every set matcher must match: Route is a
// key as Stats reports it ("GET /v1.0/deviceManagement/managedDevices"),
// Method and PathPrefix match the raw request.
type Fault struct {
	ID         string  `json:"id"`
	Route      string  `json:"route,omitempty"`
	Method     string  `json:"method,omitempty"`
	PathPrefix string  `json:"pathPrefix,omitempty"`
	Status     int     `json:"status,omitempty"`            // answer with this status instead of serving
	Code       string  `json:"code,omitempty"`              // error code in the service's shape
	Message    string  `json:"message,omitempty"`           // error message
	RetryAfter int     `json:"retryAfterSeconds,omitempty"` // Retry-After header with Status
	Rate       float64 `json:"rate,omitempty"`              // probability per matching call; 0 means 1
	Count      int     `json:"count,omitempty"`             // stop after this many hits; 0 = unlimited
	LatencyMS  int     `json:"latencyMs,omitempty"`         // delay before answering
	Drop       bool    `json:"drop,omitempty"`              // close the connection without answering
	Hits       int     `json:"hits"`
}

// Faults is the set of active faults.
type Faults struct {
	mu    sync.Mutex
	rules []*Fault
	seq   int
}

// NewFaults returns an empty set.
func NewFaults() *Faults { return &Faults{} }

// Add installs a fault and returns it with its id.
func (f *Faults) Add(ft Fault) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	ft.ID, ft.Hits = "fault-"+strconv.Itoa(f.seq), 0
	f.rules = append(f.rules, &ft)
	return ft
}

// List returns the active faults.
func (f *Faults) List() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Fault, 0, len(f.rules))
	for _, r := range f.rules {
		out = append(out, *r)
	}
	return out
}

// Remove deletes one fault by id, or all when id is empty.
func (f *Faults) Remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		f.rules = nil
		return true
	}
	for i, r := range f.rules {
		if r.ID == id {
			f.rules = append(f.rules[:i], f.rules[i+1:]...)
			return true
		}
	}
	return false
}

// match picks the first fault for the request and counts the hit.
func (f *Faults) match(key string, r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ft := range f.rules {
		if (ft.Route != "" && ft.Route != key) ||
			(ft.Method != "" && !strings.EqualFold(ft.Method, r.Method)) ||
			(ft.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, ft.PathPrefix)) ||
			(ft.Count > 0 && ft.Hits >= ft.Count) ||
			(ft.Rate > 0 && ft.Rate < 1 && rand.Float64() >= ft.Rate) {
			continue
		}
		ft.Hits++
		c := *ft
		return &c
	}
	return nil
}

// Mux routes one service's requests and instruments every route.
type Mux struct {
	mux    *http.ServeMux
	stats  *Stats
	faults *Faults
	errw   ErrorWriter
	// Log, when set, gets one line per request: method, path, status and
	// duration (never headers or bodies, which carry secrets).
	Log *log.Logger
}

// NewMux returns a Mux recording into stats, applying faults and writing
// errors with errw.
func NewMux(stats *Stats, faults *Faults, errw ErrorWriter) *Mux {
	return &Mux{mux: http.NewServeMux(), stats: stats, faults: faults, errw: errw}
}

// Handle registers h for a ServeMux pattern.
func (m *Mux) Handle(pattern string, h http.HandlerFunc) {
	path := pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		path = pattern[i+1:]
	}
	m.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + path
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, count: func(status int) { m.stats.add(key, status) }}
		began := time.Now()
		defer func() {
			rec.record() // a dropped connection or a handler that wrote nothing
			if m.Log != nil {
				m.Log.Printf("%s %s %d %s", r.Method, r.URL.Path, rec.status, time.Since(began).Round(time.Microsecond))
			}
		}()
		if ft := m.faults.match(key, r); ft != nil && m.inject(rec, r, ft) {
			return
		}
		if !m.decodeBody(rec, r) {
			return
		}
		h(rec, r)
	}))
}

// inject applies a fault; true when the request was answered by it.
func (m *Mux) inject(w *recorder, r *http.Request, ft *Fault) bool {
	if ft.LatencyMS > 0 {
		t := time.NewTimer(time.Duration(ft.LatencyMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case ft.Drop:
		w.status = 0 // recorded as "no answer"
		if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream
	case ft.Status != 0:
		if ft.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ft.RetryAfter))
		}
		code, msg := ft.Code, ft.Message
		if code == "" {
			code = http.StatusText(ft.Status)
		}
		if msg == "" {
			msg = "Injected fault " + ft.ID
		}
		m.errw(w, r, ft.Status, code, msg)
		return true
	}
	return false
}

// decodeBody transparently inflates gzip bodies, as Graph accepts the ones
// kiota sends, and refuses other encodings with 415 (kiota then retries
// uncompressed).
func (m *Mux) decodeBody(w http.ResponseWriter, r *http.Request) bool {
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return true
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			m.errw(w, r, http.StatusBadRequest, "BadRequest", "Invalid gzip request body")
			return false
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{zr, r.Body}
		r.Header.Del("Content-Encoding")
		r.ContentLength = -1
		return true
	default:
		m.errw(w, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Unsupported Content-Encoding "+enc)
		return false
	}
}

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// recorder remembers the status a handler wrote.
// recorder counts the call when its status is written, before any byte reaches the
// client: a test that reads the counts right after its response arrives sees it.
type recorder struct {
	http.ResponseWriter
	status  int
	counted bool
	count   func(status int)
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.record()
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.record() // an implicit 200
	return r.ResponseWriter.Write(b)
}

// record counts the call once.
func (r *recorder) record() {
	if !r.counted {
		r.counted = true
		r.count(r.status)
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	WriteRaw(w, status, b)
}

// WriteRaw answers with already encoded JSON.
func WriteRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
