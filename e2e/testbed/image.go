package testbed

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
)

// ImageName is the e2e image: podimage as /podimage, entrypoint
// ["/podimage"], cmd ["pause"] — the sandbox image too.
const ImageName = "cane.local/e2e:1"

// WriteImage packs the binary at bin into an OCI image archive (one
// uncompressed layer) at out, named ImageName, for `ctr images import`.
// Built here because no registry can be reached from the testbed.
func WriteImage(bin, out string) error {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	layer, err := tarFiles(map[string]tarFile{"podimage": {exe, 0o755}})
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
	files := map[string]tarFile{
		"oci-layout": {[]byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644},
		"index.json": {index, 0o644},
	}
	for _, blob := range [][]byte{layer, config, manifest} {
		files["blobs/sha256/"+digest(blob)[len("sha256:"):]] = tarFile{blob, 0o644}
	}
	archive, err := tarFiles(files)
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
	for name, f := range files {
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
