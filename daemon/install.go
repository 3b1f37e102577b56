package daemon

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// InstallCNI is the DaemonSet's install step: it copies the cane plugin
// binary into the runtime's CNI bin dir and the conflist into its conf
// dir. Each file is written beside its target and renamed over it, so a
// runtime exec-ing cane or reading the conf dir never sees half a file.
func InstallCNI(plugin, binDir, conflist, confDir string) error {
	if err := copyAtomic(plugin, filepath.Join(binDir, "cane"), 0o755); err != nil {
		return fmt.Errorf("install the plugin: %w", err)
	}
	if err := copyAtomic(conflist, filepath.Join(confDir, filepath.Base(conflist)), 0o644); err != nil {
		return fmt.Errorf("install the conflist: %w", err)
	}
	return nil
}

func copyAtomic(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: already gone
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
