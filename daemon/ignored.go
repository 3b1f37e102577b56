package daemon

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ignoredReporter makes what the view leaves out visible to operators,
// and keeps that cheap on a big cluster:
//
//   - every node logs an object when it starts and stops being ignored
//     (not on every refresh), and counts the objects it ignores by kind
//     (cane_ignored_objects{kind}): no API cost;
//   - a Warning Event (reason CaneIgnored, on the object) per object and
//     reason comes from a few nodes only. A bad object is seen by every
//     node: if each of 10,000 posted an Event, one rogue Block would cost
//     10,000 writes to etcd. Each object's reporters are the `reporters`
//     nodes that rank highest for it by rendezvous hashing of (object,
//     node name) over the nodes this one knows (their CaneNodes): every
//     node finds the same few without talking to the others, so one object
//     costs `reporters` Events whatever the size of the cluster, and a
//     reporter that leaves is replaced by the next in rank.
//
// An object is reported once it has been ignored for settle: a new node's
// first Block often reaches other nodes before its CaneNode does. Events
// are posted from Run's goroutine, never on the sync path: one at a time,
// each within eventTimeout, at most eventBurst at once and then one a
// second; a failed post is retried on a later tick. An object no longer
// ignored is forgotten, and reported again if it comes back.
//
// Lock: mu guards the entries and counts (a leaf of the lock order); it
// is never held across a post.
type ignoredReporter struct {
	node string
	log  *slog.Logger
	post func(ctx context.Context, kind, name, message string) error
	now  func() time.Time

	mu      sync.Mutex
	entries map[ignoredKey]*ignoredEntry
	nodes   []string // every node known, this one too, sorted
	counts  map[string]int
}

// Tuning of the reporter (see ignoredReporter).
const (
	reporters    = 3
	settle       = 10 * time.Second
	eventTimeout = 5 * time.Second
	eventBurst   = 10
)

type ignoredKey struct{ kind, name, why string }

type ignoredEntry struct {
	since time.Time
	sent  bool
	mine  int8 // 0: not decided yet, 1: this node reports it, -1: it does not
}

func newIgnoredReporter(node string, log *slog.Logger, post func(context.Context, string, string, string) error) *ignoredReporter {
	return &ignoredReporter{node: node, log: log, post: post, now: time.Now, entries: map[ignoredKey]*ignoredEntry{}, counts: map[string]int{}}
}

// observe takes a refresh's ignored objects and the nodes known now. It
// logs the objects newly ignored and those no longer ignored. Never
// blocks on I/O.
func (r *ignoredReporter) observe(ign []ignored, nodes []string) {
	now := r.now()
	seen := make(map[ignoredKey]bool, len(ign))
	counts := map[string]int{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range ign {
		k := ignoredKey{i.Kind, i.Name, i.Why}
		if seen[k] {
			continue
		}
		seen[k] = true
		counts[i.Kind]++
		if _, ok := r.entries[k]; !ok {
			r.entries[k] = &ignoredEntry{since: now}
			r.log.Warn("cluster object ignored", "kind", i.Kind, "name", i.Name, "why", i.Why)
		}
	}
	for k := range r.entries {
		if !seen[k] {
			delete(r.entries, k)
			r.log.Info("cluster object no longer ignored", "kind", k.kind, "name", k.name, "why", k.why)
		}
	}
	if !slices.Equal(nodes, r.nodes) {
		r.nodes = nodes
		for _, e := range r.entries {
			if !e.sent {
				e.mine = 0 // the ranking may have changed
			}
		}
	}
	r.counts = counts
}

// due are the objects this node should post an Event about now.
func (r *ignoredReporter) due() []ignoredKey {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ignoredKey
	for k, e := range r.entries {
		if e.sent || now.Sub(e.since) < settle {
			continue
		}
		if e.mine == 0 {
			e.mine = -1
			if slices.Contains(rankFor(k, r.nodes, reporters), r.node) {
				e.mine = 1
			}
		}
		if e.mine == 1 {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind+out[i].name < out[j].kind+out[j].name })
	return out
}

// sent records that k's Event was posted (if k is still ignored).
func (r *ignoredReporter) sent(k ignoredKey) {
	r.mu.Lock()
	if e, ok := r.entries[k]; ok {
		e.sent = true
	}
	r.mu.Unlock()
}

// rankFor is the n nodes that report object k: those whose rendezvous
// hash with k is highest.
func rankFor(k ignoredKey, nodes []string, n int) []string {
	type scored struct {
		node  string
		score uint64
	}
	s := make([]scored, 0, len(nodes))
	for _, node := range nodes {
		h := fnv.New64a()
		_, _ = h.Write([]byte(k.kind + "/" + k.name + "\x00" + node))
		s = append(s, scored{node, mix64(h.Sum64())})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].score > s[j].score })
	out := make([]string, 0, n)
	for i := 0; i < len(s) && i < n; i++ {
		out = append(out, s[i].node)
	}
	return out
}

// mix64 is MurmurHash3's 64-bit finalizer: FNV alone leaves the names'
// last bytes (node-0081, node-0082) in the low bits, and the ranking
// would favour a few nodes. Deterministic, as every node must rank alike.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Run posts the due Events until ctx ends: a look every second, at most
// eventBurst posts at once, one more for every second since.
func (r *ignoredReporter) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	tokens := eventBurst
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tokens = min(tokens+1, eventBurst)
		for _, k := range r.due() {
			if tokens == 0 {
				break
			}
			tokens--
			if err := r.postOne(ctx, k); err != nil {
				r.log.Warn("event about an ignored object", "kind", k.kind, "name", k.name, "err", err)
				continue
			}
			r.sent(k)
		}
	}
}

func (r *ignoredReporter) postOne(ctx context.Context, k ignoredKey) error {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	return r.post(ctx, k.kind, k.name, "ignored by Cane on node "+r.node+" (and every other node): "+k.why)
}

var descIgnored = prometheus.NewDesc("cane_ignored_objects", "Cluster objects this node leaves out of its view as invalid or conflicting, by kind (see the CaneIgnored events and caned's log).", []string{"kind"}, nil)

// Describe and Collect make the reporter the collector of
// cane_ignored_objects: the last refresh's counts, no I/O.
func (r *ignoredReporter) Describe(ch chan<- *prometheus.Desc) { ch <- descIgnored }

func (r *ignoredReporter) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, kind := range ignorableKinds {
		if _, ok := r.counts[kind]; !ok {
			ch <- prometheus.MustNewConstMetric(descIgnored, prometheus.GaugeValue, 0, kind)
		}
	}
	for kind, n := range r.counts {
		ch <- prometheus.MustNewConstMetric(descIgnored, prometheus.GaugeValue, float64(n), kind)
	}
}

// ignorableKinds always have a cane_ignored_objects series (0 when none
// is ignored), so an alert on it has something to compare.
var ignorableKinds = []string{"Block", "CaneNode", "Domain", "Loan", "Pool"}
