import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { Netns, netnsSkipReason } from "../../test/lib/netns.ts";
import { freePort } from "../../test/lib/container-node.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { startForwards } from "./forward.ts";

let ns: Netns | undefined;
let echo: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(() => {
  if (netnsSkipReason) return;
  ns = new Netns("fwd");
  ns.ip("addr", "add", "10.77.0.1/32", "dev", "lo");
  // An echo server that exists only inside the namespace: the host cannot reach 10.77.0.1 itself.
  echo = ns.spawn(["python3", "-c", `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.77.0.1", 7000)); s.listen(8)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
for _ in range(8):
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,)).start()
`]);
});

afterAll(() => { echo?.kill(); ns?.delete(); });

async function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const c = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let n = 0;
    c.on("data", (d: Buffer) => { got.push(d); n += d.length; if (n >= payload.length) { c.end(); resolve(Buffer.concat(got)); } });
    c.on("error", reject);
    c.write(payload);
    setTimeout(() => reject(new Error(`only ${n} of ${payload.length} bytes back`)), 20_000);
  });
}

test.skipIf(netnsSkipReason !== null)("bytes reach a server that only exists in the namespace, both ways, a large payload intact", async () => {
  const port = await freePort();
  const [l] = startForwards(ns!.name, [{ listenPort: port, target: { host: "10.77.0.1", port: 7000 } }]);
  try {
    // Until the echo server in the namespace listens, a round trip fails.
    let small: Buffer | undefined;
    await eventually(async () => (small = await roundTrip(port, Buffer.from("ping")).catch(() => undefined)) !== undefined);
    expect(small?.toString()).toBe("ping");
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const back = await roundTrip(port, big);
    expect(back.length).toBe(big.length);
    expect(back.equals(big)).toBe(true);
  } finally {
    l!.stop(true);
  }
}, 30_000);

test.skipIf(netnsSkipReason !== null)("a target that refuses closes the client's connection rather than leaving it open", async () => {
  const port = await freePort();
  const [l] = startForwards(ns!.name, [{ listenPort: port, target: { host: "10.77.0.1", port: 7001 } }]);
  try {
    const closed = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.on("close", () => resolve(true));
      c.on("error", () => undefined);
      setTimeout(() => resolve(false), 10_000);
    });
    expect(closed).toBe(true);
  } finally {
    l!.stop(true);
  }
});
