package detect

import (
	"net/netip"

	"github.com/lannerhq/lanner/agent/capture"
)

func netipAddrPort(sa capture.SockAddr) netip.AddrPort {
	return netipAddrPortOf(sa.IP, sa.Port)
}

// netipAddrPortOf unmaps IPv4-mapped IPv6 addresses so that fd.sip compares
// equal to the IPv4 literals rules are written with.
func netipAddrPortOf(ip netip.Addr, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(ip.Unmap(), port)
}
