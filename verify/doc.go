// Package verify proves isolation over the flows a node has installed:
// header-space analysis (Kazemian, Varghese, McKeown, NSDI 2012) on the
// typed flows of flows/of, as ovs.OpenFlow.Dump returns them.
//
//	rep, err := verify.Verify(installed, verify.Input{...})
//	rep.Summary() // "isolation proven: 202 sources, 103173939 header classes, 0 violations"
//
// For every source of the node (Input: its pods, tunnel, uplink and host
// ports, its domains and their peerings, the other nodes and which domain
// each address range belongs to) it follows, symbolically, every packet
// the source can send through the tables and reports each packet that
// reaches what its domain may not (Isolation), passes as someone it is
// not (Spoof, Admission), leaves for no node (Leak), loops, falls into a
// table with no matching flow (BlackHole) or crosses a flow the verifier
// cannot interpret (Unmodelled) — each with one concrete Witness packet
// that ofproto/trace replays (ParseWitness reads it back) and the flows
// it crosses.
//
// It knows nothing of Cane's tables: only OpenFlow's semantics (priority,
// goto_table, resubmit, set_field, move, output, output to a register and
// IN_PORT, push/pop VLAN, ct with its recirculation, NAT and committed
// marks, ct_clear, conjunctive matches) and OVS's (no output to the input
// port, resubmit depth, ties go to ordinary flows over conjunctions). A
// new table or flow kind needs no change here; an action it does not
// model is reported, never skipped. Where it cannot be exact it
// over-approximates what can be reached, never under (docs/design.md,
// "Proving isolation").
//
// Pure: no I/O; Verify is safe to call concurrently.
package verify
