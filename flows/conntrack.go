package flows

import "github.com/cane-cni/cane/flows/of"

// Conntrack: every IP packet is tracked (one zone, CTZone); a connection
// is committed when it starts, with a ct_mark of HostMark | the port's
// ofport if it came in through a host port. Its replies are sent
// back to that port whatever their destination: the node translated the
// connection (Service DNAT, masquerade, hostPort) and must see the reply
// to translate it back. Without this, a backend's reply to a pod on the
// same node goes straight to the pod, which never asked the backend's
// address and resets the connection.

// conntrackFlows are the pipeline's conntrack flows, but for the host
// ports' reply steering (hostPortFlows).
func conntrackFlows() []Flow {
	return []Flow{conntrackTrack(), ctStateDefault(), outputCommitNew()}
}

// conntrackTrack tracks an IP packet and continues in ConntrackState.
func conntrackTrack() Flow {
	return base(Conntrack, ConntrackAll).Proto(of.ProtoIP).Do(of.CT{Zone: CTZone, Recirc: true, Table: uint8(ConntrackState)})
}

// ctReplyToHost sends a reply (or related ICMP) of a connection that came
// in through host port hp back to it, from the gateway's MAC to the
// port's.
func ctReplyToHost(n Node, hp HostPort) Flow {
	return base(ConntrackState, CTReplyToHost).Proto(of.ProtoIP).Match(
		of.CTState(of.CTTrk|of.CTRpl, 0), of.CTMark(HostMark|hp.OFPort, 0xffffffff)).Do(
		of.Set(of.EthSrc(n.GatewayMAC)), of.Set(of.EthDst(hp.MAC)), RegOutPort.Set(hp.OFPort), gotoTable(Output))
}

// ctStateDefault sends everything else on to the domain policy.
func ctStateDefault() Flow {
	return base(ConntrackState, CTStateDefault).Do(gotoTable(DomainPolicy))
}

// outputCommitNew commits a new connection, then sends the packet out
// like any other.
func outputCommitNew() Flow {
	return base(Output, OutputCommitNew).Proto(of.ProtoIP).Match(of.CTState(of.CTTrk|of.CTNew, 0)).Do(
		of.CT{Commit: true, Zone: CTZone}, of.OutputReg{Src: RegOutPort.Subfield()})
}

// outputCommitHost commits a new connection that came in through host
// port hp with the port's mark, so its replies find their way back.
func outputCommitHost(hp HostPort) Flow {
	mark := of.Set(of.CTMark(HostMark|hp.OFPort, 0xffffffff))
	return base(Output, OutputCommitHost).Proto(of.ProtoIP).Match(of.InPort(hp.OFPort), of.CTState(of.CTTrk|of.CTNew, 0)).Do(
		of.CT{Commit: true, Zone: CTZone, Exec: []of.SetField{mark}}, of.OutputReg{Src: RegOutPort.Subfield()})
}
