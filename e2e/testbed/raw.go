package testbed

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Frame fields for hand-made packets (forged sources, ARP poisoning).
type Frame struct {
	SrcMAC, DstMAC net.HardwareAddr
	VLAN           uint16 // 802.1Q VID; 0 for untagged
}

// UDP builds an Ethernet/IPv4/UDP frame.
func (f Frame) UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload) // checksum 0: none, allowed over IPv4
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return f.eth(0x0800, append(ip, udp...))
}

// ARP builds an ARP frame (op 1 request, 2 reply).
func (f Frame) ARP(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:], sha)
	s, t := spa.As4(), tpa.As4()
	copy(b[14:], s[:])
	copy(b[18:], tha)
	copy(b[24:], t[:])
	return f.eth(0x0806, b)
}

func (f Frame) eth(etherType uint16, payload []byte) []byte {
	h := append(append([]byte{}, f.DstMAC...), f.SrcMAC...)
	if f.VLAN != 0 {
		h = binary.BigEndian.AppendUint16(h, 0x8100)
		h = binary.BigEndian.AppendUint16(h, f.VLAN&0xfff)
	}
	h = binary.BigEndian.AppendUint16(h, etherType)
	return append(h, payload...)
}

// SendFrame writes raw frames out of ifName inside n (AF_PACKET).
func SendFrame(n ns.NetNS, ifName string, frames ...[]byte) error {
	return n.Do(func(ns.NetNS) error {
		ifi, err := net.InterfaceByName(ifName)
		if err != nil {
			return err
		}
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		defer syscall.Close(fd)
		addr := &syscall.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for _, fr := range frames {
			copy(addr.Addr[:], fr[:6])
			if err := syscall.Sendto(fd, fr, 0, addr); err != nil {
				return fmt.Errorf("send frame: %w", err)
			}
		}
		return nil
	})
}

// VXLAN wraps an inner Ethernet frame in a VXLAN header with vni, as the
// payload of an outer UDP datagram to port 4789.
func VXLAN(vni uint32, inner []byte) []byte {
	h := make([]byte, 8)
	h[0] = 0x08 // I flag: the VNI is valid
	binary.BigEndian.PutUint32(h[4:], vni<<8)
	return append(h, inner...)
}
