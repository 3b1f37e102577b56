package flows

// Priority is a flow's priority in its table: where flows overlap, the
// higher wins. Each table's priorities are named here, and the orders
// that matter are stated in Orderings (checked by TestOrderings).
type Priority uint16

// Classifier.
const (
	ClassifierPort     Priority = 200 // a known source: a pod's port, a host port, a known VTEP, a VLAN domain's tag
	ClassifierPortDrop Priority = 100 // the tunnel or uplink with an unknown VTEP or tag
	ClassifierDefault  Priority = 0
)

// TunnelVNI and TunnelDomain.
const (
	TunnelBlock       Priority = 200 // a remote node's block, in the domain it serves
	TunnelNodeAddr    Priority = 190 // a remote node's own address, in any overlay domain
	TunnelVNIDefault  Priority = 0
	TunnelDomainKnown Priority = 200 // an overlay domain's VNI
	TunnelDomainDrop  Priority = 0
)

// SpoofGuard.
const (
	SpoofGuardTagged   Priority = 300 // 802.1Q from a pod
	SpoofGuardHostDrop Priority = 250 // from a host port: an ICMP redirect, or ARP from a pool's address
	SpoofGuardPort     Priority = 200 // the port's own MAC and IP, or a host port
	SpoofGuardDefault  Priority = 0
)

// ARPResponder.
const (
	ARPGateway    Priority = 200 // a pool's gateway, to its domain (a lent block's borrower too)
	ARPLentAnswer Priority = 150 // a lent block's addresses, to the borrower
	ARPLentSeal   Priority = 140 // a lent block's addresses, to anyone else: drop
	ARPPoolAnswer Priority = 100 // any pool address, to its domain; a peer's pool, to a host port
	ARPPassIP     Priority = 10  // IP goes on to Conntrack
	ARPDefault    Priority = 0
)

// Conntrack and ConntrackState.
const (
	ConntrackAll      Priority = 100 // every IP packet
	ConntrackDrop     Priority = 0
	CTReplyToHost     Priority = 200 // a reply of a connection that came in through a host port
	CTStateDefault    Priority = 0
	OutputCommitHost  Priority = 110 // a new connection from a host port is committed with its mark
	OutputCommitNew   Priority = 100 // any other new connection is committed
	OutputDefault     Priority = 0
	ToHostDomain      Priority = 200
	ToHostDefault     Priority = 0
	ToNodeVLAN        Priority = 200 // a VLAN domain is routed by the node, never tunnelled
	ToNodeRemote      Priority = 100 // another node's address: through the tunnel
	ToNodeDefault     Priority = 0   // anything else: the node routes it
	PolicyLentAllow   Priority = 250 // the borrower and its peers into a lent block
	PolicyLentSeal    Priority = 240 // anyone else into a lent block: isolation
	PolicyAllow       Priority = 200 // a domain into its own or a peer's pool
	PolicyIsolation   Priority = 100 // anyone else into a pool
	PolicySteered     Priority = 70  // a translated connection's reply outside every pool: back to its host port (whatever its port: the node asked)
	PolicyNodeProtect Priority = 60  // pods to the node's loopback or to the overlay's UDP port: drop
	PolicyOwnNode     Priority = 30  // a pod's, tunnel's or uplink's packet for this node: to the domain's host port
	PolicyPodOut      Priority = 25  // a pod's packet outside every pool: on to ToNode
	PolicyDefault     Priority = 0   // tunnel, uplink and host packets outside every pool: no transit
)

// Forward.
const (
	ForwardSteer   Priority = 250 // a translated connection's reply: back to its host port, wherever it is addressed
	ForwardPod     Priority = 200 // a local pod's address
	ForwardRemote  Priority = 100 // a remote block: tunnel or uplink
	ForwardDefault Priority = 0
)

// Ordering is a chain of priorities of one table whose flows overlap:
// each must outrank the next, for the reason given.
type Ordering struct {
	Table Table
	Why   string
	Chain []Priority // highest first
}

// Orderings are every order the pipeline relies on.
var Orderings = []Ordering{
	{Classifier, "a known port, VTEP or VLAN tag is admitted; anything else from the tunnel or uplink drops; other ports drop",
		[]Priority{ClassifierPort, ClassifierPortDrop, ClassifierDefault}},
	{TunnelVNI, "a block's source binds its VNI; a node's own address carries any overlay domain's; anything else drops",
		[]Priority{TunnelBlock, TunnelNodeAddr, TunnelVNIDefault}},
	{TunnelDomain, "a known overlay VNI is admitted, any other drops", []Priority{TunnelDomainKnown, TunnelDomainDrop}},
	{SpoofGuard, "a tagged frame drops even with the port's own MAC and IP; a redirect or a pool-sourced ARP from the node drops before the host port passes",
		[]Priority{SpoofGuardTagged, SpoofGuardHostDrop, SpoofGuardPort, SpoofGuardDefault}},
	{ARPResponder, "the gateway is answered; the borrower resolves a lent block above its seal; the seal hides it from the lender above the pool's answer",
		[]Priority{ARPGateway, ARPLentAnswer, ARPLentSeal, ARPPoolAnswer, ARPDefault}},
	{ARPResponder, "IP passes; unanswered ARP drops", []Priority{ARPPassIP, ARPDefault}},
	{Conntrack, "every IP packet is tracked; anything else drops", []Priority{ConntrackAll, ConntrackDrop}},
	{ConntrackState, "a translated connection's reply goes back to its host port before any policy", []Priority{CTReplyToHost, CTStateDefault}},
	{DomainPolicy, "lent-block allow > lent-block seal > domain allow > isolation drop > steered replies > node protection > this node > pods out > no transit",
		[]Priority{PolicyLentAllow, PolicyLentSeal, PolicyAllow, PolicyIsolation, PolicySteered, PolicyNodeProtect, PolicyOwnNode, PolicyPodOut, PolicyDefault}},
	{ToNode, "a VLAN domain goes to the node before any tunnel; another node's address through the tunnel; the rest to the node",
		[]Priority{ToNodeVLAN, ToNodeRemote, ToNodeDefault}},
	{Forward, "a steered reply goes back to its host port > local pods > remote blocks > drop", []Priority{ForwardSteer, ForwardPod, ForwardRemote, ForwardDefault}},
	{ToHost, "a domain's host port, else drop", []Priority{ToHostDomain, ToHostDefault}},
	{Output, "a host port's new connections are committed with its mark, others without; then every packet goes out", []Priority{OutputCommitHost, OutputCommitNew, OutputDefault}},
}
