/**
 * The DHCP client's UDP socket: port 68, bound to ONE link with SO_BINDTODEVICE before bind(), so
 * it can broadcast from a link with no address yet and several links can each run a client.
 */
import { AF_INET, DgramSocket, SO_BINDTODEVICE, SO_BROADCAST, SO_REUSEADDR, SOCK_DGRAM, SOL_SOCKET, sockaddrIn, TimeoutError } from "../sys/dgram.ts";
import { ipOf } from "../ip/ip.ts";

export const CLIENT_PORT = 68;
export const SERVER_PORT = 67;

/** What the client needs from a socket (the tests may drive the client through their own). */
export interface DhcpTransport {
  /** To 255.255.255.255:67 without `to`, else unicast to to:67. */
  send(pkt: Uint8Array, to?: string): void;
  /** The next datagram, or null when none came within `ms`. */
  recv(ms: number): Promise<Uint8Array | null>;
  /** Ends a pending recv() early (it returns null). */
  interrupt(): void;
  close(): Promise<void>;
}

export class UdpTransport implements DhcpTransport {
  private readonly buf = Buffer.alloc(1500);
  private readonly broadcast = sockaddrIn(Uint8Array.of(255, 255, 255, 255), SERVER_PORT);

  private constructor(private readonly sock: DgramSocket) {}

  static open(ifname: string, port = CLIENT_PORT): UdpTransport {
    const sock = DgramSocket.open(AF_INET, SOCK_DGRAM, 0, `DHCP socket on ${ifname}`);
    try {
      sock.setOption(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
      sock.setOption(SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST");
      sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(ifname + "\0"), "SO_BINDTODEVICE");
      sock.bind(sockaddrIn(new Uint8Array(4), port));
    } catch (e) {
      void sock.close();
      throw e;
    }
    return new UdpTransport(sock);
  }

  send(pkt: Uint8Array, to?: string): void {
    this.sock.send(pkt, to ? sockaddrIn(ipOf(to).bytes, SERVER_PORT) : this.broadcast);
  }

  async recv(ms: number): Promise<Uint8Array | null> {
    try {
      const n = await this.sock.recv(this.buf, Math.max(1, ms));
      return new Uint8Array(this.buf.subarray(0, n));
    } catch (e) {
      if (e instanceof TimeoutError) return null;
      throw e;
    }
  }

  interrupt(): void {
    this.sock.interrupt();
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}
