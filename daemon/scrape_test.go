package daemon

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestScrapeDoesNoIO: a scrape serves the monitor's last look. With OVS
// stopped, scrapes still answer at once, with that look's flows and pods:
// a loop of scrapes (from anywhere that may scrape) costs the node no
// flow dump and no netns read.
func TestScrapeDoesNoIO(t *testing.T) {
	n := newNode(t)
	n.addPod("ctr-a", "prod")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, tables, err := n.d.mon.look(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.d.mon.judge(s, tables, map[string]bool{})
	if err := n.ovs.StopSwitch(); err != nil {
		t.Fatal(err)
	}
	if err := n.ovs.StopDB(); err != nil {
		t.Fatal(err)
	}
	handler := promhttp.HandlerFor(n.d.mon.metrics.Registry, promhttp.HandlerOpts{})
	start := time.Now()
	var body string
	for range 100 {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body = rec.Body.String()
	}
	took := time.Since(start)
	if !strings.Contains(body, `cane_flows{table="Classifier"}`) || !strings.Contains(body, `domain="production"`) {
		t.Errorf("scrape without OVS lost the last look:\n%.500s", body)
	}
	if took > 2*time.Second {
		t.Errorf("100 scrapes took %s", took)
	}
	t.Logf("100 scrapes with OVS stopped: %s", took)
}
