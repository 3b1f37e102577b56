package flows

// Priority is a flow's priority in its table: where flows overlap, the
// higher wins. Each table's priorities are named here, and the orders
// that matter are stated in Orderings (checked by TestOrderings).
type Priority uint16

// Classifier.
const (
	ClassifierHostLent Priority = 220 // the node forwards from a lent block: the borrower's domain
	ClassifierHostPool Priority = 210 // the node forwards from a pool address: the pool's domain
	ClassifierPort     Priority = 200 // a known source: a pod's port, the host port, a known VTEP, a VLAN domain's tag
	ClassifierPortDrop Priority = 100 // the tunnel or uplink with an unknown VTEP or tag
	ClassifierDefault  Priority = 0
)

// TunnelVNI.
const (
	TunnelVNIKnown   Priority = 200
	TunnelVNIDefault Priority = 0
)

// SpoofGuard.
const (
	SpoofGuardTagged  Priority = 300 // 802.1Q from a pod
	SpoofGuardPort    Priority = 200 // the port's own MAC and IP, or the host port
	SpoofGuardDefault Priority = 0
)

// ARPResponder.
const (
	ARPGateway    Priority = 200 // a pool's gateway, to its domain (a lent block's borrower too)
	ARPLentAnswer Priority = 150 // a lent block's addresses, to the borrower (and the node)
	ARPLentSeal   Priority = 140 // a lent block's addresses, to anyone else: drop
	ARPPoolAnswer Priority = 100 // any pool address, to its domain (and the node)
	ARPPassIP     Priority = 10  // IP goes on to DomainPolicy
	ARPDefault    Priority = 0
)

// DomainPolicy.
const (
	PolicyLentAllow     Priority = 250 // the borrower, its peers and the node into a lent block
	PolicyLentSeal      Priority = 240 // anyone else into a lent block: isolation
	PolicyAllow         Priority = 200 // a domain into its own or a peer's pool; the node into any pool
	PolicyIsolation     Priority = 100 // anyone else into a pool
	PolicyNoHostTransit Priority = 20  // tunnel, uplink and host packets outside every pool: drop
	PolicyToHost        Priority = 10  // pods' packets outside every pool: to the node
	PolicyDefault       Priority = 0
)

// Forward.
const (
	ForwardPod      Priority = 200 // a local pod's address
	ForwardHostOnly Priority = 150 // the host domain reaches local pods only
	ForwardRemote   Priority = 100 // a remote block: tunnel or uplink
	ForwardDefault  Priority = 0
)

// Output.
const OutputDefault Priority = 0

// Ordering is a chain of priorities of one table whose flows overlap:
// each must outrank the next, for the reason given.
type Ordering struct {
	Table Table
	Why   string
	Chain []Priority // highest first
}

// Orderings are every order the pipeline relies on.
var Orderings = []Ordering{
	{Classifier, "what the node forwards keeps its source's domain (a lent block's over its pool's); other host packets are the host domain; other ports drop",
		[]Priority{ClassifierHostLent, ClassifierHostPool, ClassifierPort, ClassifierDefault}},
	{Classifier, "a known VTEP or VLAN tag is admitted; anything else from the tunnel or uplink drops",
		[]Priority{ClassifierPort, ClassifierPortDrop, ClassifierDefault}},
	{TunnelVNI, "a known VNI is admitted, any other drops", []Priority{TunnelVNIKnown, TunnelVNIDefault}},
	{SpoofGuard, "a tagged frame drops even with the port's own MAC and IP", []Priority{SpoofGuardTagged, SpoofGuardPort, SpoofGuardDefault}},
	{ARPResponder, "the gateway is answered; the borrower (and node) resolve a lent block above its seal; the seal hides it from the lender above the pool's answer",
		[]Priority{ARPGateway, ARPLentAnswer, ARPLentSeal, ARPPoolAnswer, ARPDefault}},
	{ARPResponder, "IP passes; unanswered ARP drops", []Priority{ARPPassIP, ARPDefault}},
	{DomainPolicy, "lent-block allow > lent-block seal > domain allow > isolation drop > no host transit > pods to host > default",
		[]Priority{PolicyLentAllow, PolicyLentSeal, PolicyAllow, PolicyIsolation, PolicyNoHostTransit, PolicyToHost, PolicyDefault}},
	{Forward, "local pods (the host domain reaches them) > the host domain reaches nothing else > remote blocks > drop",
		[]Priority{ForwardPod, ForwardHostOnly, ForwardRemote, ForwardDefault}},
	{Output, "one flow", []Priority{OutputDefault}},
}
