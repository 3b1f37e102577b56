package ovstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cane-cni/cane/ovs"
)

// Server is a private Open vSwitch instance (ovsdb-server + ovs-vswitchd)
// with its own run directory, optionally inside a network namespace. Tests,
// the e2e testbed and the sandbox start one per simulated node; a real node
// runs its distribution's OVS instead.
type Server struct {
	Dir   string // run dir: conf.db, db.sock, BRIDGE.mgmt, logs, pidfiles
	NetNS string // named netns (ip netns) the daemons run in; "" for the current one
}

// DBEndpoint is the OVSDB address for Connect.
func (s *Server) DBEndpoint() string { return "unix:" + filepath.Join(s.Dir, "db.sock") }

// OpenFlow returns an OpenFlow client for this instance.
func (s *Server) OpenFlow() *ovs.OpenFlow { return &ovs.OpenFlow{RunDir: s.Dir} }

func (s *Server) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if s.NetNS != "" {
		args = append([]string{"netns", "exec", s.NetNS, name}, args...)
		name = "ip"
	}
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(), "OVS_RUNDIR="+s.Dir, "OVS_DBDIR="+s.Dir, "OVS_LOGDIR="+s.Dir)
	return c
}

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	out, err := s.cmd(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Start creates the database and starts both daemons. userspace-tso-enable
// is set before vswitchd starts: on the netdev datapath TCP between pods
// does not connect without it. On failure everything started is stopped.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	db := filepath.Join(s.Dir, "conf.db")
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	if _, statErr := os.Stat(db); statErr != nil {
		if err := s.run(ctx, "ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema"); err != nil {
			return err
		}
	}
	if err := s.StartDB(ctx); err != nil {
		return err
	}
	if err := s.run(ctx, "ovs-vsctl", "--db="+s.DBEndpoint(), "--no-wait", "init", "--",
		"set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"); err != nil {
		return err
	}
	return s.StartSwitch(ctx)
}

// StartDB starts ovsdb-server on the existing database.
func (s *Server) StartDB(ctx context.Context) error {
	return s.run(ctx, "ovsdb-server", filepath.Join(s.Dir, "conf.db"),
		"--remote=punix:"+filepath.Join(s.Dir, "db.sock"),
		"--pidfile="+s.pidfile("ovsdb-server"), "--unixctl="+filepath.Join(s.Dir, "ovsdb-server.ctl"),
		"--log-file="+filepath.Join(s.Dir, "ovsdb-server.log"), "--detach")
}

// StartSwitch starts ovs-vswitchd.
func (s *Server) StartSwitch(ctx context.Context) error {
	return s.run(ctx, "ovs-vswitchd", s.DBEndpoint(),
		"--pidfile="+s.pidfile("ovs-vswitchd"), "--unixctl="+filepath.Join(s.Dir, "ovs-vswitchd.ctl"),
		"--log-file="+filepath.Join(s.Dir, "ovs-vswitchd.log"), "--detach")
}

// StopDB ends ovsdb-server (by the PID in its pidfile) and waits for it.
func (s *Server) StopDB() error { return stopPID(s.pidfile("ovsdb-server")) }

// StopSwitch ends ovs-vswitchd (by the PID in its pidfile) and waits for it.
func (s *Server) StopSwitch() error { return stopPID(s.pidfile("ovs-vswitchd")) }

// Stop ends both daemons. Safe to call more than once.
func (s *Server) Stop() error {
	return errors.Join(stopPID(s.pidfile("ovs-vswitchd")), stopPID(s.pidfile("ovsdb-server")))
}

// Appctl runs ovs-appctl against one of the daemons ("ovs-vswitchd").
func (s *Server) Appctl(ctx context.Context, daemon string, args ...string) (string, error) {
	out, err := ovs.RunCommand(ctx, nil, "ovs-appctl", append([]string{"-t", filepath.Join(s.Dir, daemon+".ctl")}, args...)...)
	return string(out), err
}

func (s *Server) pidfile(daemon string) string { return filepath.Join(s.Dir, daemon+".pid") }

// stopPID sends SIGTERM to the process in pidfile and waits up to 5s for
// it to go, then SIGKILL. A missing pidfile or process is not an error.
func stopPID(pidfile string) error {
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad pidfile %s", pidfile)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		os.Remove(pidfile)
		return nil
	}
	for i := 0; i < 500; i++ {
		if !alive(pid) {
			os.Remove(pidfile)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	os.Remove(pidfile)
	return nil
}

// alive reports whether pid runs. A zombie (exited, not yet reaped by
// whoever adopted the detached daemon) counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: "pid (comm) state ..."; comm may hold spaces, so look after ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
