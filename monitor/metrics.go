package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Report is what a scrape shows besides the counters' snapshot.
type Report struct {
	Snapshot Snapshot
	Alerts   []Alert
	Pools    []PoolUsage
	Flows    map[string]int // installed flows per table name
	Loans    []LoanUsage
}

// LoanUsage is one loan on a lent node: its phase and borrower pods; pods
// of an Ended loan are to be drained.
type LoanUsage struct {
	Loan, Phase string
	Pods        int
}

// PoolUsage is one pool's addresses on this node.
type PoolUsage struct {
	Pool, Domain    string
	Allocated, Held int // addresses given to pods; addresses in blocks the node holds
}

// Metrics is caned's Prometheus registry: CNI latencies, observed as they
// happen, and everything else read at scrape time from a Report.
type Metrics struct {
	Registry *prometheus.Registry
	CNI      *prometheus.HistogramVec // command, result (ok or the CNI error code)
}

// NewMetrics registers Cane's metrics; report is called once per scrape.
func NewMetrics(report func() Report) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		CNI: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cane_cni_duration_seconds", Help: "CNI requests served by caned, by command and result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"command", "result"}),
	}
	m.Registry.MustRegister(m.CNI, collector{report})
	return m
}

var (
	descMACEntries  = prometheus.NewDesc("cane_mac_table_entries", "MAC entries in a learning bridge's table.", []string{"bridge"}, nil)
	descMACMax      = prometheus.NewDesc("cane_mac_table_max_entries", "mac-table-size of the bridge.", []string{"bridge"}, nil)
	descMACEvicted  = prometheus.NewDesc("cane_mac_table_evictions_total", "MAC entries evicted because the table was full.", []string{"bridge"}, nil)
	descUDP         = prometheus.NewDesc("cane_udp_errors_total", "UDP error counters (/proc/net/snmp) of the node (pod=\"\") or a pod's netns.", []string{"pod", "domain", "counter"}, nil)
	descReasm       = prometheus.NewDesc("cane_ip_reassembly_failures_total", "IP reassembly failures of the node (pod=\"\") or a pod's netns.", []string{"pod", "domain"}, nil)
	descPortDrops   = prometheus.NewDesc("cane_port_dropped_packets_total", "Packets OVS dropped on a pod's port.", []string{"pod", "domain", "direction"}, nil)
	descPipeline    = prometheus.NewDesc("cane_pipeline_dropped_packets_total", "Packets dropped by Cane's pipeline, by reason.", []string{"reason"}, nil)
	descAlert       = prometheus.NewDesc("cane_alert", "1 for each condition that needs a person now.", []string{"kind", "subject"}, nil)
	descPool        = prometheus.NewDesc("cane_pool_addresses", "A pool's addresses on this node: allocated to pods, or held in its blocks.", []string{"pool", "domain", "state"}, nil)
	descFlows       = prometheus.NewDesc("cane_flows", "Installed OpenFlow flows per table.", []string{"table"}, nil)
	descLoan        = prometheus.NewDesc("cane_loan_borrower_pods", "Borrower pods on this lent node, by loan and phase (Ended: to drain).", []string{"loan", "phase"}, nil)
	descScrapeError = prometheus.NewDesc("cane_monitor_pod_errors", "Pods whose counters could not be read in this scrape.", nil, nil)
)

type collector struct{ report func() Report }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMACEntries, descMACMax, descMACEvicted, descUDP, descReasm, descPortDrops, descPipeline, descAlert, descPool, descFlows, descLoan, descScrapeError} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.report()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, m := range r.Snapshot.MACTables {
		gauge(descMACEntries, float64(m.Current), m.Bridge)
		gauge(descMACMax, float64(m.Max), m.Bridge)
		counter(descMACEvicted, m.Evicted, m.Bridge)
	}
	netns := func(pod, domain string, s SNMP) {
		for name, v := range map[string]uint64{
			"InErrors": s.UDPInErrors, "RcvbufErrors": s.UDPRcvbufErrors, "SndbufErrors": s.UDPSndbufErrors, "NoPorts": s.UDPNoPorts, "InCsumErrors": s.UDPInCsumErrors,
		} {
			counter(descUDP, v, pod, domain, name)
		}
		counter(descReasm, s.IPReasmFails, pod, domain)
	}
	netns("", "", r.Snapshot.Node)
	failed := 0
	for _, p := range r.Snapshot.Pods {
		if p.Err != "" {
			failed++
			continue
		}
		netns(p.Name, p.Domain, p.SNMP)
		counter(descPortDrops, p.RxDropped, p.Name, p.Domain, "rx")
		counter(descPortDrops, p.TxDropped, p.Name, p.Domain, "tx")
	}
	gauge(descScrapeError, float64(failed))
	for reason, n := range r.Snapshot.Drops {
		counter(descPipeline, n, reason)
	}
	for _, a := range r.Alerts {
		gauge(descAlert, 1, a.Kind, a.Subject)
	}
	for _, p := range r.Pools {
		gauge(descPool, float64(p.Allocated), p.Pool, p.Domain, "allocated")
		gauge(descPool, float64(p.Held), p.Pool, p.Domain, "held")
	}
	for _, l := range r.Loans {
		gauge(descLoan, float64(l.Pods), l.Loan, l.Phase)
	}
	for table, n := range r.Flows {
		gauge(descFlows, float64(n), table)
	}
}
