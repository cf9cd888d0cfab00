/** rtnetlink numbers, from the kernel's uapi headers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h). */

export const NLMSG_HDRLEN = 16;
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

export const NLM_F = {
  REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, DUMP_INTR: 0x10,
  ROOT: 0x100, MATCH: 0x200, DUMP: 0x300,
  REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800,
  /** On NLMSG_ERROR: the request was not echoed in full / extended ack TLVs follow. */
  CAPPED: 0x100, ACK_TLVS: 0x200,
} as const;

export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18, SETLINK: 19,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
} as const;

export const AF = { UNSPEC: 0, INET: 2, BRIDGE: 7, INET6: 10 } as const;

export const SOL_NETLINK = 270;
export const NETLINK_ROUTE = 0;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2 } as const;

export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;

export const IFF = {
  UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, POINTOPOINT: 0x10, RUNNING: 0x40, NOARP: 0x80,
  PROMISC: 0x100, MASTER: 0x400, SLAVE: 0x800, MULTICAST: 0x1000, LOWER_UP: 0x10000,
} as const;

export const IFLA = {
  ADDRESS: 1, BROADCAST: 2, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, TXQLEN: 13, OPERSTATE: 16,
  LINKINFO: 18, GROUP: 27, CARRIER: 33, PERM_ADDRESS: 54, MIN_MTU: 50, MAX_MTU: 51,
} as const;

export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
export const IFLA_VLAN = { ID: 1, PROTOCOL: 5 } as const;
export const IFLA_BOND = {
  MODE: 1, ACTIVE_SLAVE: 2, MIIMON: 3, UPDELAY: 4, DOWNDELAY: 5, XMIT_HASH_POLICY: 14,
  MIN_LINKS: 18, AD_LACP_RATE: 21,
} as const;

/** Bond modes by the names `ip link` and sysfs use. */
export const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"] as const;
export type BondMode = (typeof BOND_MODES)[number];

export const OPERSTATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"] as const;

export const ARPHRD = { ETHER: 1, TUNNEL: 768, TUNNEL6: 769, LOOPBACK: 772, SIT: 776, IPGRE: 778, IP6GRE: 823, NONE: 0xfffe } as const;

export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4, CACHEINFO: 6, FLAGS: 8 } as const;
export const IFA_F = { SECONDARY: 0x1, NODAD: 0x2, DADFAILED: 0x8, DEPRECATED: 0x20, TENTATIVE: 0x40, PERMANENT: 0x80, NOPREFIXROUTE: 0x200 } as const;

export const RTA = {
  DST: 1, SRC: 2, IIF: 3, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, METRICS: 8, TABLE: 15,
} as const;
export const RTAX_MTU = 2;

export const RTN = { UNSPEC: 0, UNICAST: 1, LOCAL: 2, BROADCAST: 3, ANYCAST: 4, MULTICAST: 5, BLACKHOLE: 6, UNREACHABLE: 7, PROHIBIT: 8 } as const;
export const RTPROT = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4, RA: 9, DHCP: 16 } as const;
export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;
export const RT_TABLE = { UNSPEC: 0, DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;
