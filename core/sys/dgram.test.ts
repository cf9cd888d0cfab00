import { expect, test } from "bun:test";
import { AF_INET, DgramSocket, SOCK_DGRAM, sockaddrIn, TimeoutError } from "./dgram.ts";

const loopback = Uint8Array.of(127, 0, 0, 1);

function boundSocket(): { sock: DgramSocket; port: number } {
  // Try a few ports in a high range: the test needs a fixed port to send to (no getsockname here).
  for (let i = 0; i < 20; i++) {
    const port = 40000 + ((process.pid * 7 + i * 131) % 20000);
    const sock = DgramSocket.open(AF_INET, SOCK_DGRAM, 0, "test socket");
    try {
      sock.bind(sockaddrIn(loopback, port));
      return { sock, port };
    } catch {
      void sock.close();
    }
  }
  throw new Error("no free UDP port on loopback");
}

test("a pending receive does not block the event loop: a timer fires meanwhile and sends what it receives", async () => {
  const { sock, port } = boundSocket();
  const sender = DgramSocket.open(AF_INET, SOCK_DGRAM, 0, "sender");
  try {
    // The datagram is only sent from a timer callback, which can only run if the loop is free
    // while recv() waits on the threadpool.
    setTimeout(() => sender.send(new TextEncoder().encode("hello"), sockaddrIn(loopback, port)), 150);
    const buf = Buffer.alloc(64);
    const n = await sock.recv(buf, 5000);
    expect(buf.subarray(0, n).toString()).toBe("hello");
  } finally {
    await sock.close();
    await sender.close();
  }
});

test("recv times out with TimeoutError naming the socket; interrupt ends a wait early; close is safe while waiting", async () => {
  const { sock } = boundSocket();
  const err = await sock.recv(Buffer.alloc(16), 250).catch((e) => e);
  expect(err).toBeInstanceOf(TimeoutError);
  expect(err.message).toBe("test socket: no answer within 250 ms");
  const pending = sock.recv(Buffer.alloc(16), 60000).catch((e) => e);
  setTimeout(() => sock.interrupt(), 50);
  expect(await pending).toBeInstanceOf(TimeoutError);
  const again = sock.recv(Buffer.alloc(16), 60000).catch((e) => e);
  await sock.close();
  expect(String(await again)).toContain("closed");
});
