/**
 * A bounded, seeded fuzz of the binary's apid (FUZZ_SEED=n replays): garbage in place of TLS
 * handshakes, random HTTP/2 frames and garbled gRPC calls to every method over mutual TLS, the
 * same without a certificate in maintenance mode. Afterwards apid still answers bunkerctl, the
 * process is still running, and every garbled call ended with an answer, never a hang.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { toPemPair } from "../core/pki/issue.ts";
import { fuzzer, garble, PREFACE, randomFrame, rawSocket, tlsGarbage } from "./lib/grpc-fuzz.ts";
import { ctl, TestCluster, type RunningApid } from "./lib/remote-cluster.ts";

const cluster = new TestCluster();
const fz = fuzzer();
let apid: RunningApid;
let maint: RunningApid;
let admin = "";
let pair = { crt: "", key: "" };

beforeAll(async () => {
  const s = await cluster.stub("node-a");
  const m = await cluster.stub("fresh");
  apid = await cluster.apid("node-a", s.socket);
  maint = await cluster.apid("fresh", m.socket, { maintenance: true });
  const cert = cluster.client(["os:admin"]);
  pair = toPemPair(cert);
  admin = cluster.config("admin", { client: cert }, [apid.endpoint]);
}, 30_000);

afterAll(() => cluster.close());

async function stillAnswers(): Promise<void> {
  expect(apid.proc.exitCode).toBeNull();
  expect(maint.proc.exitCode).toBeNull();
  const r = await ctl(admin, "version", "-o", "json");
  expect({ code: r.code, host: r.code === 0 ? JSON.parse(r.out)[0].hostname : r.err }).toEqual({ code: 0, host: "node-a" });
  const m = await ctl(undefined, "version", "--insecure", "-n", maint.endpoint, "-o", "json");
  expect(m.code).toBe(0);
}

test("garbage instead of TLS, and random HTTP/2 frames inside an authenticated TLS session", async () => {
  for (let i = 0; i < 40; i++) await rawSocket(() => net.connect(apid.port, "127.0.0.1"), tlsGarbage(fz, i));
  const authed = () => tls.connect({ host: "127.0.0.1", port: apid.port, ca: toPemPair(cluster.ca).crt, cert: pair.crt, key: pair.key, ALPNProtocols: ["h2"], servername: "localhost" });
  for (let i = 0; i < 40; i++) {
    const frames = Array.from({ length: 1 + fz.int(8) }, () => randomFrame(fz));
    await rawSocket(authed, Buffer.concat(i % 2 ? [PREFACE, ...frames] : [fz.bytes(1 + fz.int(100))]));
  }
  await stillAnswers();
}, 120_000);

test("garbled gRPC calls to every method over mutual TLS and in maintenance mode", async () => {
  const session = http2.connect(`https://127.0.0.1:${apid.port}`, { ca: toPemPair(cluster.ca).crt, cert: pair.crt, key: pair.key, servername: "localhost" });
  session.on("error", () => {});
  const outcomes = await garble(fz, session, 200);
  expect(Object.values(outcomes).reduce((x, y) => x + y, 0)).toBe(200);
  expect(outcomes["HTTP undefined"]).toBeUndefined();
  const ms = http2.connect(`https://127.0.0.1:${maint.port}`, { rejectUnauthorized: false });
  ms.on("error", () => {});
  const mOutcomes = await garble(fz, ms, 100);
  expect(Object.values(mOutcomes).reduce((x, y) => x + y, 0)).toBe(100);
  if (process.env.FUZZ_VERBOSE) console.log(outcomes, mOutcomes);
  await stillAnswers();
}, 120_000);
