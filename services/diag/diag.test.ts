/** `bunker diag` in a namespace the test makes, compared with `ip -j`. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Netns, netnsSkipReason } from "../../test/lib/netns.ts";

const binary = join(resolve(import.meta.dir, "../.."), "out/bunker");
const skip = netnsSkipReason ?? (existsSync(binary) ? null : "out/bunker not built; scripts/test.sh builds it");

describe.skipIf(skip !== null)(`diag${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let ns: Netns;
  beforeAll(() => {
    ns = new Netns("diag");
    ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
    ns.ip("link", "set", "eth0", "up");
    ns.ip("addr", "add", "10.6.0.2/24", "dev", "eth0");
    ns.ip("route", "add", "default", "via", "10.6.0.1", "metric", "77");
  });
  afterAll(() => ns?.delete());
  const diag = (...a: string[]) => ns.exec([binary, "diag", ...a]);

  test("links -o json matches ip -j link", () => {
    const ours = JSON.parse(diag("links", "-o", "json"));
    expect(ours.map((l: any) => [l.index, l.name, l.mtu, l.mac])).toEqual(ns.ipJson<any[]>("link", "show").map((l) => [l.ifindex, l.ifname, l.mtu, l.address]));
  });

  test("addrs and routes, as JSON and as tables", () => {
    const addrs = JSON.parse(diag("addrs", "-o", "json"));
    expect(addrs).toContainEqual(expect.objectContaining({ link: "eth0", address: "10.6.0.2", prefixLen: 24 }));
    const routes = JSON.parse(diag("routes", "-o", "json"));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "0.0.0.0/0", gateway: "10.6.0.1", priority: 77, link: "eth0" }));
    expect(diag("routes")).toMatch(/^DESTINATION\s+GATEWAY\s+LINK\s+METRIC\s+TABLE\s+PROTOCOL\n0\.0\.0\.0\/0\s+10\.6\.0\.1\s+eth0\s+77\s+main\s+boot/m);
    expect(diag("addrs")).toMatch(/eth0\s+10\.6\.0\.2\/24\s+global\s+forever/);
  });

  test("bad usage exits 2 and says why", () => {
    const p = Bun.spawnSync([binary, "diag", "links", "-o", "yaml"], { stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain('-o must be table or json, not "yaml"');
    expect(Bun.spawnSync([binary, "diag", "links", "--help"]).exitCode).toBe(0);
  });
});
