package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
)

// Listen opens the unix socket: root-only (0600) in a 0700 directory. A
// stale socket file from an earlier run is replaced.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers the API on l until ctx ends.
func (d *Daemon) Serve(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	in := d.inspect
	mux.HandleFunc("POST /v1/cni", d.handleCNI)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, in.Status()) })
	mux.HandleFunc("GET /v1/pods", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, in.Pods()) })
	mux.HandleFunc("GET /v1/pools", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, in.Pools()) })
	mux.HandleFunc("GET /v1/blocks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, in.Blocks()) })
	mux.HandleFunc("GET /v1/xray", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, in.XRay(r.Context())) })
	mux.HandleFunc("GET /v1/flows", func(w http.ResponseWriter, r *http.Request) {
		answer[[]api.Flow](w)(in.Flows(r.Context(), r.URL.Query().Get("table"), r.URL.Query().Get("pod")))
	})
	mux.HandleFunc("POST /v1/trace", func(w http.ResponseWriter, r *http.Request) {
		var req api.TraceRequest
		if err := api.DecodeStrict(r.Body, &req); err != nil {
			http.Error(w, "malformed trace request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if req.Witness != "" {
			answer[api.Trace](w)(in.TraceWitness(r.Context(), req))
			return
		}
		answer[api.Trace](w)(in.Trace(r.Context(), req))
	})
	mux.HandleFunc("GET /v1/verify", func(w http.ResponseWriter, r *http.Request) { answer[api.Verify](w)(in.Verify(r.Context())) })
	mux.HandleFunc("GET /v1/counters", func(w http.ResponseWriter, r *http.Request) {
		answer[api.Counters](w)(d.mon.Counters(r.Context()))
	})
	mux.HandleFunc("GET /v1/loans", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, d.loans.Loans()) })
	mux.HandleFunc("POST /v1/gc", func(w http.ResponseWriter, r *http.Request) {
		answer[api.GCReport](w)(d.cni.CollectLeaks(r.Context(), r.URL.Query().Get("dryRun") == "true"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if ul, ok := l.(*net.UnixListener); ok {
		l = ownerOnly{Listener: ul, uid: uint32(os.Geteuid()), log: d.log}
	}
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (d *Daemon) handleCNI(w http.ResponseWriter, r *http.Request) {
	req, e := api.DecodeCNIRequest(r.Body)
	if e != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, api.CNIResponse{Error: e})
		return
	}
	res, cerr := d.cni.CNI(r.Context(), req)
	writeJSON(w, api.CNIResponse{Result: res, Error: cerr})
}

// answer writes v, or err as a 500 with its text (what canectl prints).
func answer[T any](w http.ResponseWriter) func(T, error) {
	return func(v T, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, v)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// CNI runs one CNI request (what the socket's POST /v1/cni does).
func (d *Daemon) CNI(ctx context.Context, req api.CNIRequest) (json.RawMessage, *types.Error) {
	return d.cni.CNI(ctx, req)
}

// ServeMetrics answers Prometheus on addr (GET /metrics) until ctx ends.
func (d *Daemon) ServeMetrics(ctx context.Context, addr string) error {
	return d.mon.ServeMetrics(ctx, addr)
}
