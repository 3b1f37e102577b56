package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// proc is a daemon this testbed started, and a channel closed when it ends.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startProc runs bin in netns n with env added to the environment,
// appending its output to logPath, in its own process group (a Ctrl-C at
// the terminal reaches the testbed, which stops it, in order, by its PID). It
// enters the netns with nsenter, not `ip netns exec`, which would mount a
// fresh /sys (the kubelet then finds no cgroup hierarchy) in a new mount
// namespace (bind mounts made later in the machine's — containerd's pod
// netns — would not reach it: this machine's root mount is private).
func startProc(n ns.NetNS, logPath string, env []string, bin string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", append([]string{"--net=" + n.Path(), "--", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop ends p by its PID: sig, then SIGKILL after grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exited is closed when p has ended (never, for nil).
func (p *proc) exited() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.done
}
