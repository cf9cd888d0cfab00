/**
 * TCP port forwards from this host's loopback into a network namespace: how the host reaches a
 * local cluster's nodes while nothing of the cluster touches the host's own network. Each
 * connection accepted on 127.0.0.1:PORT is matched by one opened inside the namespace (the socket
 * is made with this thread moved there; core/sys/netns.ts), and bytes are copied both ways with
 * backpressure: a side that cannot take more pauses the other.
 */
import type { Socket, TCPSocketListener } from "bun";
import { inNetns } from "../sys/netns.ts";

export interface ForwardMap { listenPort: number; target: { host: string; port: number } }

interface Side { peer?: Socket<Side>; pending: Uint8Array[]; other?: Socket<Side> }

/** Writes what it can; queues the rest and pauses the source until the sink drains. */
function send(to: Socket<Side>, from: Socket<Side>, data: Uint8Array): void {
  const st = to.data;
  if (st.pending.length) { st.pending.push(data); return; }
  const n = to.write(data);
  if (n < data.length) {
    st.pending.push(data.subarray(Math.max(n, 0)));
    from.pause();
  }
}

function drain(s: Socket<Side>): void {
  const st = s.data;
  while (st.pending.length) {
    const head = st.pending[0]!;
    const n = s.write(head);
    if (n < head.length) { st.pending[0] = head.subarray(Math.max(n, 0)); return; }
    st.pending.shift();
  }
  st.other?.resume();
}

/** Listens on 127.0.0.1 for each map; returns the listeners (stop them to end). */
export function startForwards(netns: string, maps: readonly ForwardMap[]): TCPSocketListener<Side>[] {
  return maps.map((m) => Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: m.listenPort,
    socket: {
      open(client) {
        client.data = { pending: [] };
        client.pause();
        let out: Promise<Socket<Side>>;
        try {
          out = inNetns(netns, () => Bun.connect<Side>({
            hostname: m.target.host,
            port: m.target.port,
            data: { pending: [], other: client },
            socket: {
              open(server) { client.data.other = server; client.resume(); },
              data(server, d) { send(client, server, d); },
              drain,
              close() { client.end(); },
              error() { client.end(); },
              connectError() { client.end(); },
            },
          }));
        } catch {
          client.end();
          return;
        }
        out.catch(() => client.end());
      },
      data(client, d) { const server = client.data.other; if (server) send(server, client, d); },
      drain,
      close(client) { client.data.other?.end(); },
      error(client) { client.data.other?.end(); },
    },
  }));
}
