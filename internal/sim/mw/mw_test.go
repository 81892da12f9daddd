package mw

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func newTestMux() (*Mux, *Stats, *Faults) {
	st, fs := NewStats(), NewFaults()
	m := NewMux(st, fs, func(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
		WriteJSON(w, status, map[string]string{"code": code, "msg": msg})
	})
	m.Handle("POST /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	return m, st, fs
}

func TestBodiesAndStats(t *testing.T) {
	m, st, _ := newTestMux()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(`{"a":1}`))
	_ = zw.Close()
	tests := []struct {
		name, enc string
		body      []byte
		status    int
		want      string
	}{
		{"plain", "", []byte(`{"a":1}`), 200, `{"a":1}`},
		{"gzip", "gzip", zb.Bytes(), 200, `{"a":1}`},
		{"broken gzip", "gzip", []byte("nope"), 400, ""},
		{"brotli", "br", []byte("x"), 415, ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("POST", "/things/1", bytes.NewReader(tc.body))
		if tc.enc != "" {
			req.Header.Set("Content-Encoding", tc.enc)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != tc.status || (tc.want != "" && rec.Body.String() != tc.want) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	s := st.Snapshot()["POST /things/{id}"]
	if s.Calls != 4 || s.Status[200] != 2 || s.Status[415] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFaultMatching(t *testing.T) {
	m, st, fs := newTestMux()
	do := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
		return rec
	}
	f := fs.Add(Fault{Route: "POST /things/{id}", Status: 429, RetryAfter: 3, Count: 2})
	other := fs.Add(Fault{Method: "GET", Status: 500}) // never matches a POST
	for i, want := range []int{429, 429, 200} {
		rec := do("/things/1")
		if rec.Code != want {
			t.Fatalf("call %d: %d", i, rec.Code)
		}
		if want == 429 && rec.Header().Get("Retry-After") != "3" {
			t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
		}
	}
	if s := st.Snapshot()["POST /things/{id}"]; s.Throttled != 2 {
		t.Fatalf("throttled %d", s.Throttled)
	}
	fs.Add(Fault{PathPrefix: "/things/9", Status: 503, Rate: 1})
	if do("/things/9").Code != 503 || do("/things/1").Code != 200 {
		t.Fatal("path prefix")
	}
	for _, x := range fs.List() {
		if x.ID == f.ID && x.Hits != 2 || x.ID == other.ID && x.Hits != 0 {
			t.Fatalf("hits %+v", x)
		}
	}
	if !fs.Remove(f.ID) || fs.Remove(f.ID) || !fs.Remove("") || len(fs.List()) != 0 {
		t.Fatal("remove")
	}
}
