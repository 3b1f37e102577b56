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
	return []Flow{conntrackTrack(), conntrackDefault(), ctStateDefault(), policySteered(), outputCommitNew()}
}

// conntrackDefault drops what is not IP (the uplink's ARP: VLAN pods
// resolve on their own node).
func conntrackDefault() Flow { return drop(Conntrack, ConntrackDrop, ReasonNoRoute) }

// conntrackTrack tracks an IP packet and continues in ConntrackState.
func conntrackTrack() Flow {
	return base(Conntrack, ConntrackAll).Proto(of.ProtoIP).Do(of.CT{Zone: CTZone, Recirc: true, Table: uint8(ConntrackState)})
}

// ctReplyToHost marks a reply (or related ICMP) of a connection that
// came in through host port hp to go back to it — if the reply's source
// is of a domain hp's may reach (its own, a peer): conntrack's state never
// carries a packet across domains. DomainPolicy still judges its
// destination (isolation, lent-block seals), then Forward steers it.
func ctReplyToHost(hp HostPort, src Domain) Flow {
	return base(ConntrackState, CTReplyToHost).Proto(of.ProtoIP).Match(
		RegDomain.Match(src.VNI), of.CTState(of.CTTrk|of.CTRpl, 0), of.CTMark(HostMark|hp.OFPort, 0xffffffff)).Do(
		RegSteer.Set(SteerFlag|hp.OFPort), gotoTable(DomainPolicy))
}

// policySteered sends a marked reply whose destination is outside every
// pool (an outside client, a node address) on to Forward, which steers it.
func policySteered() Flow {
	return base(DomainPolicy, PolicySteered).Proto(of.ProtoIP).Match(steered()).Do(gotoTable(Forward))
}

// steered matches packets ConntrackState marked to go back to a host port.
func steered() of.Match {
	return of.MaskedUint(of.Reg(RegSteer.Reg), uint64(SteerFlag)<<RegSteer.Lo, uint64(SteerFlag)<<RegSteer.Lo)
}

// forwardSteer sends a marked reply back to its host port, from the
// gateway's MAC to the port's.
func forwardSteer(n Node, hp HostPort) Flow {
	return base(Forward, ForwardSteer).Proto(of.ProtoIP).Match(RegSteer.Match(SteerFlag|hp.OFPort)).Do(
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
