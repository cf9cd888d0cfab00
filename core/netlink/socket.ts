/**
 * An rtnetlink socket: requests numbered by sequence, one in flight at a time, replies matched by
 * sequence number, multi-part dumps gathered until NLMSG_DONE, ACKs awaited, and NLMSG_ERROR
 * turned into a NetlinkError that names the errno, the kernel's own message and what was being done.
 */
import { AF_NETLINK, DgramSocket, SOCK_RAW } from "../sys/dgram.ts";
import { errnoName } from "../sys/errnames.ts";
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, NLMSG, NLM_F, SOL_NETLINK } from "./consts.ts";
import { decodeError, decodeMsgs, encodeMsg, type NlMsg } from "./message.ts";

export class NetlinkError extends Error {
  constructor(readonly errno: number, readonly op: string, kernelMessage?: string) {
    super(`${op}: ${errnoName(errno)}${kernelMessage ? ` (${kernelMessage})` : ""}`);
    this.name = "NetlinkError";
  }
}

const RECV_BUF = 1 << 16;
/** The kernel answers rtnetlink requests at once; this only catches a wedged socket. */
const REPLY_TIMEOUT_MS = 5000;

function sockaddrNl(): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  return b;
}

export class NetlinkSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private queue: Promise<unknown> = Promise.resolve();
  private readonly buf = Buffer.alloc(RECV_BUF);
  private readonly kernel = sockaddrNl();
  /** Messages that decoded as garbage (never expected from the kernel; counted, not thrown). */
  malformed = 0;

  private constructor(private readonly sock: DgramSocket) {}

  static open(): NetlinkSocket {
    const sock = DgramSocket.open(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "rtnetlink socket");
    try {
      // Extended ACKs carry the kernel's reason in words; capped ACKs do not echo our request back.
      sock.setOption(SOL_NETLINK, NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK");
      sock.setOption(SOL_NETLINK, NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK");
      sock.bind(sockaddrNl());
    } catch (e) {
      void sock.close();
      throw e;
    }
    return new NetlinkSocket(sock);
  }

  close(): Promise<void> {
    return this.sock.close();
  }

  /** A request answered by an ACK (flags get REQUEST|ACK added). */
  async ack(type: number, flags: number, body: Uint8Array, op: string): Promise<void> {
    await this.request(type, flags | NLM_F.ACK, body, op);
  }

  /** A dump: every message of every part, until NLMSG_DONE. */
  dump(type: number, body: Uint8Array, op: string): Promise<NlMsg[]> {
    return this.request(type, NLM_F.DUMP, body, op);
  }

  private request(type: number, flags: number, body: Uint8Array, op: string): Promise<NlMsg[]> {
    const run = () => this.exchange(type, flags, body, op);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async exchange(type: number, flags: number, body: Uint8Array, op: string): Promise<NlMsg[]> {
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    this.sock.send(encodeMsg(type, flags | NLM_F.REQUEST, seq, body), this.kernel);
    const out: NlMsg[] = [];
    const isDump = (flags & NLM_F.DUMP) === NLM_F.DUMP;
    for (;;) {
      const n = await this.sock.recv(this.buf, REPLY_TIMEOUT_MS);
      let msgs: NlMsg[];
      try {
        msgs = decodeMsgs(this.buf.subarray(0, n));
      } catch {
        this.malformed++;
        continue;
      }
      for (const m of msgs) {
        if (m.seq !== seq) continue; // a late answer to an earlier, abandoned request
        if (m.type === NLMSG.ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(e.errno, op, e.message);
          return out;
        }
        if (m.type === NLMSG.DONE) {
          // A dump that failed part-way ends with DONE carrying a negative errno.
          const err = m.payload.byteLength >= 4 ? -new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true) : 0;
          if (err > 0) throw new NetlinkError(err, op);
          return out;
        }
        if (m.type === NLMSG.NOOP) continue;
        out.push({ ...m, payload: new Uint8Array(m.payload) });
        if (!isDump && !(m.flags & NLM_F.MULTI) && !(flags & NLM_F.ACK)) return out;
      }
    }
  }
}
