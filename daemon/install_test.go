package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstallCNI(t *testing.T) {
	dir := t.TempDir()
	plugin, conflist := filepath.Join(dir, "src-cane"), filepath.Join(dir, "10-cane.conflist")
	bin, conf := filepath.Join(dir, "opt/cni/bin"), filepath.Join(dir, "etc/cni/net.d")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(plugin, []byte("v1"), 0o600))
	must(os.WriteFile(conflist, []byte(`{"name":"cane"}`), 0o600))
	must(InstallCNI(plugin, bin, conflist, conf))
	// Again, over a running version: replaced, not appended to.
	must(os.WriteFile(plugin, []byte("v2"), 0o600))
	must(InstallCNI(plugin, bin, conflist, conf))
	got, err := os.ReadFile(filepath.Join(bin, "cane"))
	must(err)
	fi, _ := os.Stat(filepath.Join(bin, "cane"))
	if string(got) != "v2" || fi.Mode().Perm() != 0o755 {
		t.Errorf("installed plugin %q mode %v, want v2 and 0755", got, fi.Mode())
	}
	if got, _ := os.ReadFile(filepath.Join(conf, "10-cane.conflist")); string(got) != `{"name":"cane"}` {
		t.Errorf("installed conflist %q", got)
	}
	for _, d := range []string{bin, conf} {
		entries, _ := os.ReadDir(d)
		if len(entries) != 1 {
			t.Errorf("%s holds %d files, want 1 (no temporaries left)", d, len(entries))
		}
	}
	if err := InstallCNI(filepath.Join(dir, "missing"), bin, conflist, conf); err == nil {
		t.Error("no error for a missing plugin binary")
	}
}
