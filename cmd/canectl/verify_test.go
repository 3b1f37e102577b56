package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cane-cni/cane/api"
)

// serve answers the API on a socket in a temp dir with fixed documents,
// and records trace requests.
func serve(t *testing.T, docs map[string]any, traces *[]api.TraceRequest) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "caned.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for path, doc := range docs {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && traces != nil {
				var req api.TraceRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				*traces = append(*traces, req)
			}
			_ = json.NewEncoder(w).Encode(doc)
		})
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func run(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	cmd := root()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--socket", sock}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestVerifyVerb(t *testing.T) {
	proven := api.Verify{Node: "n1", Proven: true, Summary: "isolation proven: 4 sources, 62 header classes, 0 violations", Flows: 40}
	violated := api.Verify{Node: "n1", Bridge: "br-int", Summary: "isolation NOT proven: 4 sources, 63 header classes, 1 violations", Violations: []api.Violation{{
		Kind: "isolation", From: "production", ToDomain: "test", To: "pod shop/db (ofport 12, domain test)", Source: "pod shop/web (ofport 10)",
		Sources: 2, Classes: 3, Witness: "tcp,in_port=10,nw_src=198.19.0.2,nw_dst=198.19.1.2",
		Path: []api.Hop{{Table: 0, TableName: "Classifier", Flow: "priority=200,in_port=10 actions=set_field:0x64->reg0,goto_table:10"}},
	}}}
	for _, tc := range []struct {
		name string
		doc  api.Verify
		want []string
		fail bool
	}{
		{"proven", proven, []string{"n1: isolation proven: 4 sources, 62 header classes, 0 violations"}, false},
		{"violated", violated, []string{"ISOLATION", "production → test: pod shop/db", "3 header classes of 2 sources",
			"canectl trace --witness 'tcp,in_port=10,nw_src=198.19.0.2,nw_dst=198.19.1.2'", "0 Classifier"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, serve(t, map[string]any{"GET /v1/verify": tc.doc}, nil), "verify")
			if tc.fail != errors.Is(err, errFailed) || (!tc.fail && err != nil) {
				t.Errorf("error %v, want failed=%v", err, tc.fail)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestTraceWitness(t *testing.T) {
	var reqs []api.TraceRequest
	tr := api.Trace{Packet: "tcp,in_port=10", Verdict: "delivered to pod shop/db (198.19.1.2) on this node", Delivered: true}
	sock := serve(t, map[string]any{"POST /v1/trace": tr}, &reqs)
	out, err := run(t, sock, "trace", "--witness", "tcp,in_port=10,nw_dst=198.19.1.2")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Witness != "tcp,in_port=10,nw_dst=198.19.1.2" || reqs[0].From != "" {
		t.Fatalf("requests %+v", reqs)
	}
	if !strings.Contains(out, "verdict: delivered to pod shop/db") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := run(t, sock, "trace", "--witness", "tcp,in_port=10", "extra"); err == nil {
		t.Error("a witness and arguments both were taken")
	}
	if _, err := run(t, sock, "trace", "shop/web"); err == nil {
		t.Error("one argument without a witness was taken")
	}
}
