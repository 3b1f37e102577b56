// Package testbed builds Cane clusters inside network namespaces for the
// e2e suite and the sandbox: each node is a netns with its own OVS and its
// own caned (the real binary), pods are netns attached through the real
// cane binary via libcni, as containerd does. Nothing touches the root
// netns; everything is torn down by Close, in reverse order, even after a
// failure.
package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Testbed owns everything it created.
type Testbed struct {
	Dir    string // scratch space: configs, OVS run dirs, state, logs
	BinDir string // holds cane and caned

	mu       sync.Mutex
	cleanups []func() error
	fabric   *Fabric
}

// New makes a testbed; binDir must hold the cane and caned binaries.
func New(binDir string) (*Testbed, error) {
	for _, b := range []string{"cane", "caned"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("testbed needs %s in %s (make build): %w", b, binDir, err)
		}
	}
	dir, err := os.MkdirTemp("", "cane-e2e-")
	if err != nil {
		return nil, err
	}
	tb := &Testbed{Dir: dir, BinDir: binDir}
	tb.defer_(func() error { return os.RemoveAll(dir) })
	return tb, nil
}

// defer_ registers an undo step for Close.
func (tb *Testbed) defer_(f func() error) {
	tb.mu.Lock()
	tb.cleanups = append(tb.cleanups, f)
	tb.mu.Unlock()
}

// Close undoes everything, newest first, and reports every failure.
func (tb *Testbed) Close() error {
	tb.mu.Lock()
	cs := tb.cleanups
	tb.cleanups = nil
	tb.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		errs = append(errs, cs[i]())
	}
	return errors.Join(errs...)
}

// BuildBinaries builds cane and caned from the module at repo into dir.
func BuildBinaries(repo, dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/", "./plugins/cane", "./cmd/caned", "./cmd/canectl")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, out)
	}
	return nil
}
