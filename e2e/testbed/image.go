package testbed

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// WithLibraries adds to files the shared libraries (and the loader) that
// ldd lists for each named binary on this machine, at the same paths:
// enough to run Debian's OVS tools in an otherwise empty image.
func WithLibraries(files map[string]string, binaries ...string) error {
	for _, b := range binaries {
		path, err := exec.LookPath(b)
		if err != nil {
			return err
		}
		files[path] = path
		out, err := exec.Command("ldd", path).Output()
		if err != nil {
			return fmt.Errorf("ldd %s: %w", path, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if filepath.IsAbs(f) {
					files[f] = f
				}
			}
		}
	}
	return nil
}

// ImageName is the e2e image: entrypoint ["/podimage"], cmd ["pause"] —
// the sandbox image too — with whatever else WriteImage is given.
const ImageName = "cane.local/e2e:1"

// WriteImage packs files (path in the image → file on this machine, whose
// mode is kept) into an OCI image archive at out, one uncompressed layer,
// named ImageName, for `ctr images import`. Built here because no
// registry can be reached from the testbed. files must hold "podimage".
func WriteImage(out string, files map[string]string) error {
	content := map[string]tarFile{}
	for in, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		content[strings.TrimPrefix(in, "/")] = tarFile{data, int64(fi.Mode().Perm())}
	}
	layer, err := tarFiles(content)
	if err != nil {
		return err
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/podimage"}, "Cmd": []string{"pause"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(layer)}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": descriptor("application/vnd.oci.image.config.v1+json", config, nil),
		"layers": []any{descriptor("application/vnd.oci.image.layer.v1.tar", layer, nil)},
	})
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{descriptor("application/vnd.oci.image.manifest.v1+json", manifest,
			map[string]string{"io.containerd.image.name": ImageName, "org.opencontainers.image.ref.name": "1"})},
	})
	oci := map[string]tarFile{
		"oci-layout": {[]byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644},
		"index.json": {index, 0o644},
	}
	for _, blob := range [][]byte{layer, config, manifest} {
		oci["blobs/sha256/"+digest(blob)[len("sha256:"):]] = tarFile{blob, 0o644}
	}
	archive, err := tarFiles(oci)
	if err != nil {
		return err
	}
	return os.WriteFile(out, archive, 0o644)
}

type tarFile struct {
	data []byte
	mode int64
}

func tarFiles(files map[string]tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // the same files make the same digest
	for _, name := range names {
		f := files[name]
		for i := range name {
			if name[i] == '/' && !dirs[name[:i]] {
				dirs[name[:i]] = true
				if err := tw.WriteHeader(&tar.Header{Name: name[:i] + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
					return nil, err
				}
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func descriptor(mediaType string, blob []byte, annotations map[string]string) map[string]any {
	d := map[string]any{"mediaType": mediaType, "digest": digest(blob), "size": len(blob)}
	if annotations != nil {
		d["annotations"] = annotations
	}
	return d
}
