package ovs

import (
	"testing"

	"github.com/cane-cni/cane/flows"
)

const traceDelivered = `Flow: tcp,in_port=10,vlan_tci=0x0000,dl_src=0a:58:c6:13:00:02,dl_dst=0a:58:c6:13:00:03,nw_src=198.19.0.2,nw_dst=198.19.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=40000,tp_dst=80,tcp_flags=0

bridge("br-int")
----------------
 0. in_port=10, priority 200, cookie 0x102000000000a
    set_field:0x64->reg0
    goto_table:10
10. ip,in_port=10,dl_src=0a:58:c6:13:00:02,nw_src=198.19.0.2, priority 200, cookie 0x102000000000a
    goto_table:20
20. ip, priority 10, cookie 0x1010000000000
    goto_table:30
30. ip,reg0=0x64,nw_dst=198.19.0.0/24, priority 200, cookie 0x1010000000000
    goto_table:40
40. ip,nw_dst=198.19.0.3, priority 200, cookie 0x102000000000b
    set_field:0a:58:c6:13:00:03->eth_dst
    set_field:0xb->reg1
    goto_table:50
50. priority 0, cookie 0x1010000000000
    output:NXM_NX_REG1[]
     -> output port is 11

Final flow: tcp,reg0=0x64,reg1=0xb,in_port=10,vlan_tci=0x0000
Megaflow: recirc_id=0,eth,ip,in_port=10,dl_src=0a:58:c6:13:00:02
Datapath actions: 3
`

const traceNoMatch = `Flow: ip,in_port=99,vlan_tci=0x0000

bridge("br-int")
----------------
 0. No match.
    drop

Final flow: unchanged
Megaflow: recirc_id=0,eth,ip,in_port=99
Datapath actions: drop
`

func TestParseTrace(t *testing.T) {
	tr, err := ParseTrace(traceDelivered)
	if err != nil {
		t.Fatal(err)
	}
	var tables []flows.Table
	for _, s := range tr.Steps {
		tables = append(tables, s.Table)
	}
	if len(tr.Steps) != 6 || tr.DatapathActions != "3" {
		t.Fatalf("steps %v, datapath %q", tables, tr.DatapathActions)
	}
	fwd := tr.Steps[4]
	if fwd.Table != flows.Forward || fwd.Priority != 200 || fwd.Cookie.Kind() != flows.KindPod || fwd.Cookie.Object() != 11 ||
		fwd.Match != "ip,nw_dst=198.19.0.3" || len(fwd.Actions) != 3 || fwd.Actions[1] != "set_field:0xb->reg1" {
		t.Errorf("forward step %+v", fwd)
	}
	if out := tr.Steps[5]; out.Match != "" || out.Priority != 0 || len(out.Actions) != 2 {
		t.Errorf("output step %+v", out)
	}
	tr, err = ParseTrace(traceNoMatch)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Steps) != 1 || tr.Steps[0].Match != "" || tr.Steps[0].Cookie != 0 || tr.DatapathActions != "drop" {
		t.Errorf("no match: %+v", tr)
	}
	if _, err := ParseTrace("ovs-appctl: cannot connect"); err == nil {
		t.Error("garbage parsed")
	}
}
