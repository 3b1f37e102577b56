package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// Client talks to caned over its socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{Socket: path, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// Unreachable is the CNI error for a daemon that does not answer: try again
// later (11), with what to do about it.
func (c *Client) Unreachable(err error) *types.Error {
	return types.NewError(types.ErrTryAgainLater, "caned is not reachable",
		fmt.Sprintf("cannot connect to %s: %v; check that caned runs on this node (canectl status, or the caned pod's logs)", c.Socket, err))
}

// CNI forwards a CNI request. It returns the result JSON or a CNI error.
func (c *Client) CNI(ctx context.Context, req CNIRequest) (json.RawMessage, *types.Error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "encode request", err.Error())
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caned/v1/cni", bytes.NewReader(body))
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "build request", err.Error())
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, c.Unreachable(err)
	}
	defer resp.Body.Close()
	var out CNIResponse
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, "bad answer from caned", fmt.Sprintf("HTTP %d: %v: %.200s", resp.StatusCode, err, data))
	}
	if out.Error != nil {
		return nil, out.Error
	}
	return out.Result, nil
}

// Get fetches a JSON document (e.g. "/v1/status") into v.
func (c *Client) Get(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodGet, path, nil, v)
}

// Post sends in (if not nil) as JSON and decodes the answer into v.
func (c *Client) Post(ctx context.Context, path string, in, v any) error {
	return c.do(ctx, http.MethodPost, path, in, v)
}

func (c *Client) do(ctx context.Context, method, path string, in, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, "http://caned"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(hreq)
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("caned at %s: %w: the socket is root-only; run this as root", c.Socket, err)
	}
	if err != nil {
		return fmt.Errorf("caned at %s is not reachable: %w; next: check that caned runs on this node and read its log "+
			"(its \"socket\" setting must match --socket)", c.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("caned: %s", bytes.TrimSpace(msg))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
