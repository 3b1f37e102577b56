package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestUndo: steps are taken back newest first, every one even after a
// failure, and each failure is logged with the step and container.
func TestUndo(t *testing.T) {
	var buf bytes.Buffer
	u := newUndo(slog.New(slog.NewTextHandler(&buf, nil)), "add", "c1")
	var order []string
	u.push("release address", func() error { order = append(order, "address"); return nil })
	u.push("remove veth", func() error { order = append(order, "veth"); return errors.New("device busy") })
	u.push("detach from OVS", func() error { order = append(order, "port"); return nil })
	u.run()
	if strings.Join(order, ",") != "port,veth,address" {
		t.Fatalf("undo order %v", order)
	}
	log := buf.String()
	for _, want := range []string{"rollback step failed", "step=\"remove veth\"", "container=c1", "device busy"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	order = nil
	u.push("x", func() error { order = append(order, "x"); return nil })
	u.disarm()
	u.run()
	if len(order) != 0 {
		t.Fatal("a disarmed undo ran")
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(time.Millisecond, 4*time.Millisecond)
	var seen []time.Duration
	for range 4 {
		seen = append(seen, b.peek())
		if !b.wait(context.Background()) {
			t.Fatal("wait ended early")
		}
	}
	if seen[0] != time.Millisecond || seen[1] != 2*time.Millisecond || seen[2] != 4*time.Millisecond || seen[3] != 4*time.Millisecond {
		t.Fatalf("intervals %v", seen)
	}
	b.reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b.peek() != time.Millisecond || b.wait(ctx) {
		t.Fatal("reset or cancellation ignored")
	}
}
