import CBpfcpShim
import Foundation

/// Names of socket families, types, protocols, states and options, as
/// Linux numbers them on x86_64.
public enum SocketNames {
    public static let afUnix: UInt16 = 1
    public static let afInet: UInt16 = 2
    public static let afInet6: UInt16 = 10
    public static let afNetlink: UInt16 = 16
    public static let afPacket: UInt16 = 17

    private static let families: [UInt16: String] = [
        1: "unix", 2: "inet", 3: "ax25", 4: "ipx", 5: "appletalk", 9: "x25", 10: "inet6", 15: "key",
        16: "netlink", 17: "packet", 21: "rds", 24: "pppox", 29: "can", 30: "tipc", 31: "bluetooth",
        36: "ieee802154", 38: "alg", 40: "vsock", 41: "kcm", 42: "qipcrtr", 44: "xdp", 45: "mctp",
    ]

    private static let types: [UInt16: String] = [
        1: "stream", 2: "dgram", 3: "raw", 4: "rdm", 5: "seqpacket", 6: "dccp", 10: "packet",
    ]

    private static let ipProtocols: [UInt16: String] = [
        0: "ip", 1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 58: "icmpv6", 132: "sctp",
        136: "udplite", 255: "raw", 262: "mptcp",
    ]

    private static let netlinkProtocols: [UInt16: String] = [
        0: "route", 1: "unused", 2: "usersock", 3: "firewall", 4: "sock_diag", 5: "nflog", 6: "xfrm",
        7: "selinux", 8: "iscsi", 9: "audit", 10: "fib_lookup", 11: "connector", 12: "netfilter", 13: "ip6_fw",
        14: "dnrtmsg", 15: "kobject_uevent", 16: "generic", 18: "scsitransport", 19: "ecryptfs", 20: "rdma",
        21: "crypto", 22: "smc",
    ]

    /// Ethertypes of packet sockets, keyed in host order.
    private static let ethertypes: [UInt16: String] = [
        0x0003: "all", 0x0800: "ip", 0x0806: "arp", 0x86DD: "ipv6", 0x8100: "vlan",
    ]

    private static let tcpStates: [UInt8: String] = [
        1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
        7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
    ]

    public static func family(_ value: UInt16) -> String {
        families[value] ?? "AF_\(value)"
    }

    public static func type(_ value: UInt16) -> String {
        types[value] ?? "SOCK_\(value)"
    }

    /// Protocol name; `value` is sk_protocol, which packet sockets keep in network order.
    public static func protocolName(family: UInt16, type: UInt16, _ value: UInt16) -> String {
        switch family {
        case afInet, afInet6:
            return ipProtocols[value] ?? "ipproto \(value)"
        case afNetlink:
            return netlinkProtocols[value] ?? "netlink \(value)"
        case afPacket:
            let host = UInt16(bigEndian: value)
            return ethertypes[host] ?? String(format: "ethertype 0x%04x", host)
        default:
            return value == 0 ? "-" : "\(value)"
        }
    }

    /// State by name: TCP names for TCP; connection states for the others, which reuse the TCP numbers.
    public static func state(family: UInt16, protocolName: String, _ value: UInt8) -> String {
        if (family == afInet || family == afInet6) && protocolName == "tcp" {
            return tcpStates[value] ?? "state \(value)"
        }
        if family == afNetlink {
            return value == 1 ? "CONNECTED" : "UNCONNECTED"
        }
        switch value {
        case 1: return "CONNECTED"
        case 2: return "CONNECTING"
        case 7: return "UNCONNECTED"
        case 10: return "LISTEN"
        default: return tcpStates[value] ?? "state \(value)"
        }
    }

    public static func shutdown(_ bits: UInt8) -> [String] {
        var names: [String] = []
        if bits & 1 != 0 { names.append("SHUT_RD") }
        if bits & 2 != 0 { names.append("SHUT_WR") }
        return names
    }

    private static let optionBits: [(UInt32, String)] = [
        (UInt32(BPFCP_SO_REUSEADDR), "SO_REUSEADDR"), (UInt32(BPFCP_SO_REUSEPORT), "SO_REUSEPORT"),
        (UInt32(BPFCP_SO_KEEPALIVE), "SO_KEEPALIVE"), (UInt32(BPFCP_SO_BROADCAST), "SO_BROADCAST"),
        (UInt32(BPFCP_SO_LINGER), "SO_LINGER"), (UInt32(BPFCP_SO_OOBINLINE), "SO_OOBINLINE"),
        (UInt32(BPFCP_SO_TIMESTAMP), "SO_TIMESTAMP"), (UInt32(BPFCP_SO_PASSCRED), "SO_PASSCRED"),
        (UInt32(BPFCP_SO_ZEROCOPY), "SO_ZEROCOPY"), (UInt32(BPFCP_IPV6_V6ONLY), "IPV6_V6ONLY"),
        (UInt32(BPFCP_TCP_NODELAY), "TCP_NODELAY"), (UInt32(BPFCP_TCP_CORK), "TCP_CORK"),
    ]

    /// Every option name, in the order `options(_:)` lists them.
    public static var allOptions: [String] { optionBits.map(\.1) }

    public static func options(_ bits: UInt32) -> [String] {
        optionBits.filter { bits & $0.0 != 0 }.map(\.1)
    }

    /// Names of negotiated TCP options; the bits match both BPFCP_TCPOPT_* and tcp_info's TCPI_OPT_*.
    public static func tcpOptions(_ bits: UInt32) -> [String] {
        var names: [String] = []
        if bits & 1 != 0 { names.append("timestamps") }
        if bits & 2 != 0 { names.append("sack") }
        if bits & 4 != 0 { names.append("window-scale") }
        return names
    }

    /// "127.0.0.1:80" or "[::1]:80"; "*" stands for the unspecified address or port.
    public static func inetAddress(family: UInt16, bytes: [UInt8], port: UInt16) -> String {
        let portText = port == 0 ? "*" : "\(port)"
        if family == afInet {
            let address = bytes[0..<4].allSatisfy { $0 == 0 } ? "*" : bytes[0..<4].map { "\($0)" }.joined(separator: ".")
            return address + ":" + portText
        }
        if bytes.allSatisfy({ $0 == 0 }) { return "[*]:" + portText }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = bytes
        _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        return "[" + cString(text) + "]:" + portText
    }

    /// A unix socket name: a path without its trailing NUL, or "@" and the escaped
    /// abstract name, which starts with a NUL byte; "-" when unbound.
    public static func unixName(_ bytes: [UInt8]) -> String {
        guard let first = bytes.first else { return "-" }
        if first == 0 { return "@" + Escape.bytes(bytes.dropFirst()) }
        let path = bytes.prefix { $0 != 0 }
        return Escape.bytes(path)
    }
}
