/**
 * The dashboard as an operator sees it: two container-mode nodes (the compiled binary's init and
 * apid) in a network namespace of the test's own, `bunkerctl dashboard -n A,B` and
 * `bunker dashboard` run in tmux at 80x25, keys sent with send-keys and the screen read with
 * capture-pane. Node A's apid relays to B because B is A's control-plane endpoint.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { bin, freePort } from "./lib/container-node.ts";
import { Dnsmasq, dnsmasqSkipReason } from "./lib/dnsmasq.ts";
import { Netns, netnsSkipReason, sh, vethPair } from "./lib/netns.ts";
import { eventually } from "./lib/eventually.ts";

const skip = netnsSkipReason ?? dnsmasqSkipReason ?? (Bun.which("tmux") ? null : "needs tmux (scripts/deps.sh installs it)");
const dir = mkdtempSync(join(tmpdir(), "bunker-dash-"));
// init runs as root and apid as uid 50: apid must pass through the state directory's parents.
chmodSync(dir, 0o711);
const tmuxSocket = `bkdash${process.pid}`;
let PA = 0;
let PB = 0;
let ns: Netns;
let peer: Netns;
let dhcp: Dnsmasq | undefined;
const inits: Bun.Subprocess[] = [];
let admin = "";

const tmux = (...args: string[]) => sh(["tmux", "-L", tmuxSocket, ...args], { allowFail: true });
const screen = (name: string, escapes = false) => tmux("capture-pane", "-p", ...(escapes ? ["-e"] : []), "-t", name);

/** Polls the pane until `re` matches (bounded); returns the last screen either way. */
async function waitScreen(name: string, re: RegExp, ms = 30_000): Promise<string> {
  let s = "";
  await eventually(() => re.test(s = screen(name)), ms, 200);
  return s;
}

function session(name: string, command: string, env: Record<string, string> = {}): void {
  const vars = Object.entries({ TERM: "xterm", ...env }).map(([k, v]) => `${k}='${v}'`).join(" ");
  // The pane stays after the command ends, with its exit code, so the test can see it quit.
  tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "25",
    `ip netns exec ${ns.name} env ${vars} ${command}; echo "exited with $?"; sleep 120`);
}

beforeAll(async () => {
  if (skip) return;
  // A link whose other end has a DHCP server, so networkd leases an address the screen shows.
  ns = new Netns("dash");
  peer = new Netns("dashp");
  vethPair(ns, peer);
  peer.ip("addr", "add", "10.77.0.1/24", "dev", "eth0");
  peer.ip("link", "set", "eth0", "up");
  dhcp = new Dnsmasq(peer, { range: "10.77.0.10,10.77.0.20,255.255.255.0,2m" });
  await dhcp.start();
  // Ports free on the host's loopback: the namespace's own loopback is empty, this only keeps
  // the numbers apart from other tests'.
  PA = await freePort();
  do PB = await freePort(); while (PB === PA);
  // B is the cluster's control-plane endpoint: A's apid may relay to it.
  const gen = Bun.spawnSync([bin, "bunkerctl", "gen", "config", "dash", `https://127.0.0.1:${PB}`, "--output-dir", join(dir, "cfg")], { stderr: "pipe" });
  if (gen.exitCode !== 0) throw new Error(`gen config: ${gen.stderr}`);
  admin = join(dir, "cfg", "bunkerconfig");
  const base = parse(readFileSync(join(dir, "cfg", "controlplane.yaml"), "utf8"));
  for (const [name, port] of [["dash-a", PA], ["dash-b", PB]] as const) {
    const cfg = structuredClone(base);
    cfg.machine.network = { ...cfg.machine.network, hostname: name };
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(cfg), { mode: 0o600 });
    inits.push(Bun.spawn(["ip", "netns", "exec", ns.name, bin, "init", "--mode=container", "--manage-network", "--state-dir", join(dir, name), "--config", file, "--api-listen", `127.0.0.1:${port}`],
      { stdin: "ignore", stdout: "ignore", stderr: Bun.file(join(dir, `${name}.log`)) }));
  }
}, 30_000);

afterAll(async () => {
  if (skip) return;
  tmux("kill-server");
  for (const p of inits) p.kill("SIGTERM");
  await Promise.all(inits.map((p) => Promise.race([p.exited, Bun.sleep(20_000).then(() => p.kill("SIGKILL"))])));
  await dhcp?.stop();
  ns?.delete();
  peer?.delete();
  rmSync(dir, { recursive: true, force: true });
});

test.skipIf(skip !== null)("bunkerctl dashboard: the node's state at 80x25, keys switch node and log source, q quits", async () => {
  session("ctl", `${bin} bunkerctl dashboard -e 127.0.0.1:${PA} -n 127.0.0.1:${PA},127.0.0.1:${PB} --interval 1s`, { BUNKERCONFIG: admin });
  let s = await waitScreen("ctl", /host dash-a[\s\S]*addresses: eth0 10\.77\.0\.\d+\/24[\s\S]*apid +Running/, 60_000);
  expect(s).toMatch(/addresses: eth0 10\.77\.0\.\d+\/24/);
  expect(s).toMatch(/routes: .*default via 10\.77\.0\.1 eth0/);
  expect(s).toContain(`127.0.0.1:${PA} (1/2)`);
  expect(s).toMatch(/host dash-a {2}version 0\.1\.0 {2}stage running/);
  expect(s).toMatch(/networkd +Running/);
  expect(s).toContain("-- log: kernel --");
  // The CPU count, and from the second refresh on the share busy between two (SystemStat).
  s = await waitScreen("ctl", /cpu [1-9]\d*x \d+%/);
  expect(s).toMatch(new RegExp(`cpu ${cpus().length}x \\d+%  load [\\d.]+ [\\d.]+ [\\d.]+ {2}mem .* \\(\\d+%\\)`));
  const lines = s.split("\n").filter((l) => l !== "");
  expect(lines.length).toBeLessThanOrEqual(25);
  expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
  // Colour reaches the terminal (the title bar in reverse video).
  expect(screen("ctl", true)).toContain("\x1b[7m");

  // l: the pane follows networkd, and shows a line networkd wrote on this node.
  tmux("send-keys", "-t", "ctl", "l");
  s = await waitScreen("ctl", /-- log: networkd --[\s\S]*\d\d:\d\d:\d\d networkd: /);
  expect(s).toMatch(/-- log: networkd --[\s\S]*\d\d:\d\d:\d\d networkd: /);

  // ]: the other node, through A's relay; 1: back to the first.
  tmux("send-keys", "-t", "ctl", "]");
  s = await waitScreen("ctl", /host dash-b/);
  expect(s).toContain(`127.0.0.1:${PB} (2/2)`);
  expect(s).toContain("host dash-b");
  tmux("send-keys", "-t", "ctl", "1");
  s = await waitScreen("ctl", /host dash-a/);
  expect(s).toContain(`127.0.0.1:${PA} (1/2)`);

  tmux("send-keys", "-t", "ctl", "q");
  s = await waitScreen("ctl", /exited with \d+/);
  expect(s).toContain("exited with 0");
}, 120_000);

test.skipIf(skip !== null)("bunker dashboard on the node's socket, without colour when NO_COLOR is set", async () => {
  session("node", `${bin} dashboard --socket ${join(dir, "dash-a", "init.sock")} --log apid`, { NO_COLOR: "1" });
  const s = await waitScreen("node", /host dash-a[\s\S]*-- log: apid --[\s\S]*apid: listening on/);
  expect(s).toContain(" this node ");
  expect(s).toMatch(/-- log: apid --[\s\S]*apid: listening on 127\.0\.0\.1:\d+/);
  expect(screen("node", true)).not.toMatch(/\x1b\[(7|3\d)m/);
  tmux("send-keys", "-t", "node", "q");
  expect(await waitScreen("node", /exited with \d+/)).toContain("exited with 0");
}, 60_000);

test.skipIf(skip !== null)("without a terminal, bunkerctl dashboard says what to use instead", () => {
  const r = Bun.spawnSync([bin, "bunkerctl", "dashboard", "-e", `127.0.0.1:${PA}`], { env: { ...process.env, BUNKERCONFIG: admin }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("the dashboard needs a terminal");
});
