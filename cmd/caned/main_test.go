package main

import (
	"io"
	"strings"
	"testing"
)

// TestCommandLine: what each command line asks serve or install to do,
// with the DaemonSet's own lines (deploy/caned.yaml) among them.
func TestCommandLine(t *testing.T) {
	defaults := installOpts{plugin: "/usr/local/bin/cane", conflist: "/etc/cane/10-cane.conflist", binDir: "/host/opt/cni/bin", confDir: "/host/etc/cni/net.d"}
	tests := []struct {
		args    []string
		serve   string // "config debug", or "" if serve must not run
		install *installOpts
		err     string
	}{
		{args: nil, serve: "/etc/cane/caned.json false"},
		{args: []string{"--config", "/etc/cane/caned.json"}, serve: "/etc/cane/caned.json false"},
		{args: []string{"--config=/x.json", "--debug"}, serve: "/x.json true"},
		{args: []string{"install"}, install: &defaults},
		{args: []string{"install", "--cni-bin-dir", "/b", "--plugin=/p"}, install: &installOpts{plugin: "/p", conflist: defaults.conflist, binDir: "/b", confDir: defaults.confDir}},
		{args: []string{"--bogus"}, err: "unknown flag"},
		{args: []string{"serve"}, err: "unknown command"},
		{args: []string{"install", "extra"}, err: "unknown command"},
	}
	for _, tc := range tests {
		var served string
		var installed *installOpts
		cmd := root(
			func(config string, debug bool) error {
				served = config + " " + map[bool]string{true: "true", false: "false"}[debug]
				return nil
			},
			func(o installOpts) error { installed = &o; return nil },
		)
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case served != tc.serve:
			t.Errorf("%q: served %q, want %q", tc.args, served, tc.serve)
		case (installed == nil) != (tc.install == nil) || (installed != nil && *installed != *tc.install):
			t.Errorf("%q: installed %+v, want %+v", tc.args, installed, tc.install)
		}
	}
}
