/** Retransmission timing of the client, through a transport that never answers, on a clock the test moves. */
import { expect, test } from "bun:test";
import { ManualClock } from "../time/clock.ts";
import { DhcpClient } from "./client.ts";
import { decodePacket, messageType, MSG } from "./packet.ts";
import type { DhcpTransport } from "./transport.ts";

class Silent implements DhcpTransport {
  sends: { at: number; type: number | undefined; xid: number }[] = [];
  private wake: (() => void) | null = null;
  constructor(private readonly clock: ManualClock) {}
  send(pkt: Uint8Array): void {
    const p = decodePacket(pkt);
    this.sends.push({ at: this.clock.now(), type: messageType(p), xid: p.xid });
  }
  recv(ms: number): Promise<Uint8Array | null> {
    return new Promise((r) => {
      const cancel = this.clock.setTimeout(() => r(null), ms);
      this.wake = () => { cancel(); r(null); };
    });
  }
  interrupt(): void { this.wake?.(); }
  async close(): Promise<void> {}
}

/** Lets the client's loop run until it waits on the clock again (bounded). */
async function untilWaiting(clock: ManualClock): Promise<void> {
  for (let i = 0; i < 1000 && clock.pending().length === 0; i++) await new Promise((r) => setImmediate(r));
}

test("DISCOVER is retransmitted with doubling waits, a bounded number of times, then the client pauses", async () => {
  const clock = new ManualClock(1_000_000);
  const t = new Silent(clock);
  const c = new DhcpClient({ ifname: "x0", mac: Uint8Array.of(2, 0, 0, 0, 0, 9), transport: t, onChange: () => {}, initialTimeoutMs: 100, maxTimeoutMs: 400, maxAttempts: 5, idleMs: 60000, clock });
  c.start();
  for (let i = 0; i < 5; i++) {
    await untilWaiting(clock);
    expect(t.sends.length).toBe(i + 1);
    clock.advance(clock.pending()[0]!);
  }
  // The round is over: no sixth DISCOVER, only the pause before the next round.
  await untilWaiting(clock);
  expect(t.sends.length).toBe(5);
  expect(clock.pending()).toEqual([60000]);
  await c.stop();
  expect(t.sends.every((s) => s.type === MSG.DISCOVER)).toBe(true);
  expect(new Set(t.sends.map((s) => s.xid)).size).toBe(1); // one exchange, one xid
  const gaps = t.sends.slice(1).map((s, i) => s.at - t.sends[i]!.at);
  // 100, 200, 400, 400 (capped), each plus up to 25% jitter: exact on this clock.
  gaps.forEach((g, i) => {
    const base = [100, 200, 400, 400][i]!;
    expect({ i, ok: g >= base && g < base * 1.25 }).toEqual({ i, ok: true });
  });
  expect(c.state).toBe("stopped");
});

