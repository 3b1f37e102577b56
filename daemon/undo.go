package daemon

import (
	"log/slog"
)

// undo is the rollback of an operation that does several steps: each
// step that succeeded pushes how to take it back; if the operation fails,
// run takes them back newest first. Every undo step runs even if an
// earlier one failed, and each failure is logged with the operation, the
// step and the container — a failed rollback leaves something behind that
// only GC or an operator will find, so it must be visible.
type undo struct {
	log   *slog.Logger
	op    string // "add"
	id    string // container ID
	steps []undoStep
}

type undoStep struct {
	name string
	fn   func() error
}

func newUndo(log *slog.Logger, op, containerID string) *undo {
	return &undo{log: log, op: op, id: containerID}
}

// push records how to take back the step just done.
func (u *undo) push(name string, fn func() error) {
	u.steps = append(u.steps, undoStep{name, fn})
}

// disarm forgets every step: the operation succeeded.
func (u *undo) disarm() { u.steps = nil }

// run takes back every recorded step, newest first.
func (u *undo) run() {
	for i := len(u.steps) - 1; i >= 0; i-- {
		s := u.steps[i]
		if err := s.fn(); err != nil {
			u.log.Error("rollback step failed; it leaves state behind for GC", "op", u.op, "step", s.name, "container", u.id, "err", err)
		}
	}
	u.steps = nil
}
