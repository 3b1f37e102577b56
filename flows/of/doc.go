// Package of is a typed OpenFlow 1.5 model of the flows Cane installs:
// fields, matches, actions and flows as values, their text exactly as
// `ovs-ofctl -O OpenFlow15 dump-flows --no-stats` prints it, and their
// wire encoding (flow mods, bundles, flow-desc multipart requests and
// replies). It does no I/O: ovs/ moves the bytes.
//
// It is built on github.com/digitalocean/go-openvswitch's ovs package:
// Match implements ovs.Match and every Action implements ovs.Action, so
// they can be handed to that package (ovs.Client.App.ProtoTrace takes
// them). Where go-openvswitch's constructors print what OVS prints
// (ovs.InPortMatch, ovs.DataLinkSource, ovs.NetworkDestination,
// ovs.ARPTargetProtocolAddress, ovs.TunnelID, ovs.ConnectionTrackingState,
// ovs.ConjunctionID, ovs.Output, ovs.SetField, ovs.Move, ovs.Conjunction,
// ovs.ConnectionTracking, ...) the text is theirs; the rest is rendered
// here, following OVS's lib/match.c and lib/ofp-actions.c.
//
// What this package adds to go-openvswitch: introspectable values (a
// match's field, value and mask; an action's kind and operands), register
// bit fields, goto_table, a canonical form and identity (Key) for flows,
// and the OpenFlow 1.5 binary codec — go-openvswitch has none of these; it
// only renders text for ovs-ofctl.
//
// Not in the vocabulary, on purpose: learn, NORMAL, FLOOD and every
// reserved output port but IN_PORT. A flow read back from a switch that
// holds one of them decodes its action as Raw (opaque bytes), so a dump
// never fails and such a flow never compares equal to a desired one.
package of
