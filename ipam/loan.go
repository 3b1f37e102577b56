package ipam

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Loan lends nodes of lender domains to a borrower domain for a window:
// while it is active, the lent nodes allocate addresses of the borrower's
// pools to the borrower's pods, up to a limit per node.
type Loan struct {
	Name         string
	Borrower     string            // the borrowing domain
	Lenders      []string          // the lending domains (what the lent nodes normally run)
	Nodes        []string          // lent nodes by name, and/or
	NodeSelector map[string]string // lent nodes by labels
	PodsPerNode  int               // limit per node, or
	Percent      int               // limit per node as a percentage of its pod capacity
	LendBlocks   bool              // lent nodes may lend lender blocks when the borrower's pools run dry
	Start, End   time.Time
}

// Phase is where a loan is in its window.
type Phase string

const (
	LoanPending Phase = "Pending"
	LoanActive  Phase = "Active"
	LoanEnded   Phase = "Ended"
)

// Phase of the loan at now: [Start, End) is active.
func (l Loan) Phase(now time.Time) Phase {
	switch {
	case now.Before(l.Start):
		return LoanPending
	case now.Before(l.End):
		return LoanActive
	}
	return LoanEnded
}

// Lends reports whether the loan lends the node (by name or labels).
func (l Loan) Lends(node string, labels map[string]string) bool {
	for _, n := range l.Nodes {
		if n == node {
			return true
		}
	}
	if len(l.NodeSelector) == 0 {
		return false
	}
	for k, v := range l.NodeSelector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Limit is how many borrower pods the loan allows on a node that runs at
// most maxPods pods.
func (l Loan) Limit(maxPods int) int {
	if l.PodsPerNode > 0 {
		return l.PodsPerNode
	}
	return l.Percent * maxPods / 100
}

// Validate checks a loan on its own.
func (l Loan) Validate() error {
	switch {
	case l.Borrower == "":
		return errors.New("no borrower domain")
	case len(l.Nodes) == 0 && len(l.NodeSelector) == 0:
		return errors.New("no nodes lent (nodes or nodeSelector)")
	case (l.PodsPerNode > 0) == (l.Percent > 0):
		return errors.New("give exactly one of podsPerNode and percent")
	case l.Percent > 100 || l.PodsPerNode < 0 || l.Percent < 0:
		return errors.New("percent must be 1..100, podsPerNode positive")
	case !l.End.After(l.Start):
		return errors.New("end must be after start")
	}
	for _, d := range l.Lenders {
		if d == l.Borrower {
			return fmt.Errorf("domain %s lends to itself", d)
		}
	}
	return nil
}

// Why a borrower pod is refused on a node.
var (
	ErrNotLent    = errors.New("no loan lends this node to the domain")
	ErrLoanEnded  = errors.New("loan ended")
	ErrLoanFull   = errors.New("loan limit reached on this node")
	ErrLoanNotYet = errors.New("loan not started")
)

// Admit picks the loan under which a pod of domain borrower may run on
// node, or says why none: a node lent by several loans uses the active one
// with room that ends last. inUse counts the node's borrower pods per loan.
func Admit(loans []Loan, borrower, node string, labels map[string]string, maxPods int, inUse map[string]int, now time.Time) (Loan, error) {
	var active, ended, pending []Loan
	for _, l := range loans {
		if l.Borrower != borrower || !l.Lends(node, labels) || l.Validate() != nil {
			continue
		}
		switch l.Phase(now) {
		case LoanActive:
			active = append(active, l)
		case LoanEnded:
			ended = append(ended, l)
		default:
			pending = append(pending, l)
		}
	}
	sort.Slice(active, func(i, j int) bool { return active[i].End.After(active[j].End) })
	for _, l := range active {
		if inUse[l.Name] < l.Limit(maxPods) {
			return l, nil
		}
	}
	switch {
	case len(active) > 0:
		l := active[0]
		return Loan{}, fmt.Errorf("%w: loan %s allows %d pods of %s on node %s and %d run there", ErrLoanFull, l.Name, l.Limit(maxPods), borrower, node, inUse[l.Name])
	case len(pending) > 0:
		return Loan{}, fmt.Errorf("%w: loan %s lends node %s to %s from %s", ErrLoanNotYet, pending[0].Name, node, borrower, pending[0].Start.Format(time.RFC3339))
	case len(ended) > 0:
		l := ended[0]
		return Loan{}, fmt.Errorf("%w: loan %s lent node %s to %s until %s; its pods there are draining", ErrLoanEnded, l.Name, node, borrower, l.End.Format(time.RFC3339))
	}
	return Loan{}, fmt.Errorf("%w: node %s, domain %s", ErrNotLent, node, borrower)
}
