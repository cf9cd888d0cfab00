/**
 * Work before authorisation (security finding 5): a caller apid has not authorised, or one whose
 * role may not call the RPC, must not make apid hold request bodies. Against real container-mode
 * nodes (the binary's init and apid), clients open connections and streams and push large
 * request bodies they never finish, bounded in count and time:
 * - a maintenance-mode node, with no client certificate (every RPC, allowed or not);
 * - a configured node, with no client certificate (the handshake is refused);
 * - a configured node, with a reader certificate (RPCs a reader may not call, and ones it may).
 * apid's resident memory (/proc/PID/status), sampled through each flood, must stay within a
 * generous margin of its baseline measured in the same run, apid must be the same process
 * afterwards, and it must still answer Version.
 *
 * FLOOD_CONNS (default 4) and FLOOD_PER_STREAM (MiB, default 1) scale the flood by hand. The
 * bytes apid holds are capped (32 MiB); what a much larger flood of bodies apid must read (the
 * maintenance ApplyConfiguration) adds beyond that is garbage the collector has not reclaimed
 * yet, which grows with the rate pushed: on a node apid's cgroup memory.max bounds it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { MachineService } from "../../core/api/gen/services.ts";
import { toPemPair } from "../../core/pki/issue.ts";
import { generateSecrets, saveSecrets } from "../../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, TestCluster } from "../lib/remote-cluster.ts";
import { eventually } from "../lib/eventually.ts";

const MiB = 1024 * 1024;
/** How far above its baseline apid's RSS may go during a flood. */
const MARGIN_MIB = 100;
const CONNECTIONS = Number(process.env.FLOOD_CONNS ?? 4);
const STREAMS = 64;
/** Body bytes each stream tries to push (of a message announced at just under 4 MiB). */
const PER_STREAM = Number(process.env.FLOOD_PER_STREAM ?? 1) * MiB;
const FLOOD_MS = 25_000;

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711); // apid runs as uid 50 when init is root
const ep = { c: "", m: "" };
const nodes: Record<"c" | "m", ContainerNode | undefined> = { c: undefined, m: undefined };
let adminConfig = "";
let reader: { cert: string; key: string } = { cert: "", key: "" };

beforeAll(async () => {
  ep.c = `127.0.0.1:${await freePort()}`;
  ep.m = `127.0.0.1:${await freePort()}`;
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const cfgDir = join(cluster.dir, "cfg");
  const gen = await ctl(undefined, "gen", "config", "flood", `https://${ep.c}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  const cp = parse(readFileSync(join(cfgDir, "controlplane.yaml"), "utf8"));
  const file = join(cluster.dir, "node-c.yaml");
  writeFileSync(file, stringify({ ...cp, machine: { ...cp.machine, network: { hostname: "node-c" } } }));
  nodes.c = new ContainerNode(join(cluster.dir, "state-c"), ep.c, file);
  nodes.m = new ContainerNode(join(cluster.dir, "state-m"), ep.m, undefined);
  nodes.c.start();
  nodes.m.start();
  adminConfig = cluster.config("admin", { client: cluster.client(["os:admin"]) }, [ep.c], [ep.c]);
  const r = toPemPair(cluster.client(["os:reader"]));
  reader = { cert: r.crt, key: r.key };
  const h = await ctl(adminConfig, "health", "-e", ep.c, "-n", ep.c, "--wait-timeout", "60s");
  if (h.code !== 0) throw new Error(`node c not ready: ${h.out}${h.err}`);
  if (!(await eventually(async () => (await ctl(undefined, "version", "--insecure", "-n", ep.m)).code === 0, 30_000))) throw new Error("the maintenance node does not answer Version");
}, 120_000);

afterAll(async () => {
  await Promise.all([nodes.c?.stop(), nodes.m?.stop()]);
  await cluster.close();
});

/** apid's pid: init's child whose argv[0] is "apid". */
function apidPid(node: ContainerNode): number {
  const init = node.proc!.pid;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== init) continue;
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")[0] === "apid") return Number(d);
    } catch { /* the process went away */ }
  }
  throw new Error(`no apid under init ${init}`);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

// The flood and apid's memory are measured over real time: these pauses are sampling windows and
// the flood's length, not waits for a condition.
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when the stream takes more data, closes, or `ms` pass. */
function writable(req: http2.ClientHttp2Stream, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      req.off("drain", done);
      req.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    req.once("drain", done);
    req.once("close", done);
  });
}

/**
 * Opens CONNECTIONS connections with STREAMS streams each, alternating `paths`; each stream sends
 * a 5-byte prefix announcing a message of just under 4 MiB and then up to PER_STREAM bytes of it,
 * never ending. Stops after FLOOD_MS at the latest. Returns how many body bytes the server took.
 */
async function flood(endpoint: string, tls: { cert?: string; key?: string }, paths: string[]): Promise<{ sent: number; sessions: number }> {
  const deadline = Date.now() + FLOOD_MS;
  const chunk = Buffer.alloc(128 * 1024, 0x41);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(4 * MiB - 1024, 1);
  let sent = 0;
  let sessions = 0;
  const conns: http2.ClientHttp2Session[] = [];
  const one = (c: number) => new Promise<void>((resolveConn) => {
    const session = http2.connect(`https://${endpoint}`, { rejectUnauthorized: false, ...tls });
    conns.push(session);
    session.on("error", () => resolveConn());
    session.on("close", () => resolveConn());
    session.on("connect", async () => {
      sessions++;
      const streams: Promise<void>[] = [];
      for (let s = 0; s < STREAMS; s++) {
        streams.push(new Promise<void>((done) => {
          let req: http2.ClientHttp2Stream;
          try {
            req = session.request({ ":method": "POST", ":path": paths[(c * STREAMS + s) % paths.length]!, "content-type": "application/grpc", te: "trailers" });
          } catch {
            return done();
          }
          let closed = false;
          req.on("error", () => {});
          req.on("response", () => {});
          req.on("data", () => {});
          req.on("close", () => { closed = true; done(); });
          void (async () => {
            if (!req.write(prefix)) await writable(req, deadline - Date.now());
            let pushed = 0;
            while (!closed && pushed < PER_STREAM && Date.now() < deadline) {
              const ok = req.write(chunk);
              pushed += chunk.length;
              sent += chunk.length;
              if (!ok) await writable(req, deadline - Date.now());
            }
            done();
          })();
        }));
      }
      await Promise.all(streams);
      resolveConn();
    });
  });
  await Promise.race([Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => one(c))), pause(FLOOD_MS + 2000)]);
  // Held open a moment (a server that buffers keeps it all), then dropped.
  await pause(1000);
  for (const s of conns) s.destroy();
  return { sent, sessions };
}

/** Floods while sampling apid's RSS every 100 ms; returns the baseline and the peak. */
async function measured(node: ContainerNode, run: () => Promise<{ sent: number; sessions: number }>) {
  const pid = apidPid(node);
  const baseline = rssMiB(pid);
  let peak = baseline;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try { peak = Math.max(peak, rssMiB(pid)); } catch { break; }
      await pause(100);
    }
  })();
  const r = await run();
  await pause(500);
  sampling = false;
  await sampler;
  const after = apidPid(node);
  console.log(`apid ${pid}: baseline ${baseline.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB, pushed ${(r.sent / MiB).toFixed(0)} MiB over ${r.sessions} connections`);
  return { pid, after, baseline, peak, ...r };
}

const M = MachineService;

test("maintenance mode, no client certificate: bodies pushed at allowed and refused RPCs leave apid bounded", async () => {
  const m = await measured(nodes.m!, () => flood(ep.m, {}, [M.ApplyConfiguration.path, M.Reboot.path, M.Version.path]));
  expect(m.sessions).toBeGreaterThan(0);
  expect(m.after).toBe(m.pid);
  expect(m.peak).toBeLessThan(m.baseline + MARGIN_MIB);
  const v = await ctl(undefined, "version", "--insecure", "-n", ep.m);
  expect(v.err).toBe("");
  expect(v.code).toBe(0);
}, 90_000);

test("configured node, no client certificate: the handshake is refused and apid stays bounded", async () => {
  // (The client may see its side of the handshake complete: TLS 1.3 checks its certificate after.)
  const m = await measured(nodes.c!, () => flood(ep.c, {}, [M.ApplyConfiguration.path, M.Version.path]));
  expect(m.after).toBe(m.pid);
  expect(m.peak).toBeLessThan(m.baseline + MARGIN_MIB);
}, 90_000);

test("configured node, reader certificate: bodies pushed at RPCs it may and may not call leave apid bounded", async () => {
  const m = await measured(nodes.c!, () => flood(ep.c, reader, [M.ApplyConfiguration.path, M.Reboot.path, M.Version.path, M.Memory.path]));
  expect(m.sessions).toBeGreaterThan(0);
  expect(m.after).toBe(m.pid);
  expect(m.peak).toBeLessThan(m.baseline + MARGIN_MIB);
  const v = await ctl(adminConfig, "version", "-n", ep.c);
  expect(v.code).toBe(0);
  expect(v.out).toContain("node-c");
}, 90_000);
