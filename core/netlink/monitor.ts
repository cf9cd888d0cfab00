/**
 * Kernel change notifications: an rtnetlink socket joined to the link, address and route
 * multicast groups. `drain()` reads whatever is queued without blocking and says whether anything
 * changed; the caller polls it on a timer, so no thread waits on it. An overrun (ENOBUFS, too
 * many changes at once) counts as a change: the caller re-reads the state anyway.
 */
import { AF_NETLINK, DgramSocket, SOCK_RAW } from "../sys/dgram.ts";
import { SysError } from "../sys/libc.ts";
import { NETLINK_ROUTE, RTM } from "./consts.ts";
import { decodeMsgs } from "./message.ts";

export const RTMGRP = { LINK: 0x1, IPV4_IFADDR: 0x10, IPV4_ROUTE: 0x40, IPV6_IFADDR: 0x100, IPV6_ROUTE: 0x400 } as const;
const ENOBUFS = 105;

export interface Changes {
  links: boolean;
  addresses: boolean;
  routes: boolean;
}

export class NetlinkMonitor {
  private readonly buf = Buffer.alloc(1 << 16);
  private constructor(private readonly sock: DgramSocket) {}

  static open(groups = RTMGRP.LINK | RTMGRP.IPV4_IFADDR | RTMGRP.IPV4_ROUTE | RTMGRP.IPV6_IFADDR | RTMGRP.IPV6_ROUTE): NetlinkMonitor {
    const sock = DgramSocket.open(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "rtnetlink monitor");
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    addr.writeUInt32LE(groups, 8);
    try {
      sock.bind(addr);
    } catch (e) {
      void sock.close();
      throw e;
    }
    return new NetlinkMonitor(sock);
  }

  /** Reads every queued notification (at most `max` datagrams) and reports what kinds changed. */
  drain(max = 1000): Changes {
    const c: Changes = { links: false, addresses: false, routes: false };
    for (let i = 0; i < max; i++) {
      let n: number | null;
      try {
        n = this.sock.tryRecv(this.buf);
      } catch (e) {
        if (e instanceof SysError && e.errno === ENOBUFS) {
          c.links = c.addresses = c.routes = true;
          continue;
        }
        throw e;
      }
      if (n === null) break;
      let msgs;
      try {
        msgs = decodeMsgs(this.buf.subarray(0, n));
      } catch {
        c.links = c.addresses = c.routes = true;
        continue;
      }
      for (const m of msgs) {
        if (m.type === RTM.NEWLINK || m.type === RTM.DELLINK) c.links = true;
        else if (m.type === RTM.NEWADDR || m.type === RTM.DELADDR) c.addresses = true;
        else if (m.type === RTM.NEWROUTE || m.type === RTM.DELROUTE) c.routes = true;
      }
    }
    return c;
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}
