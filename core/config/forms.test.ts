import { expect, test } from "bun:test";
import * as f from "./forms.ts";
import { closest, editDistance } from "./suggest.ts";

test("durations: accepted forms and their length in ms", () => {
  for (const [s, ms] of [["30s", 30_000], ["2m", 120_000], ["1h30m", 5_400_000], ["500ms", 500], ["1.5s", 1500], ["250us", 0.25]] as const) {
    expect(f.duration(s)).toBeUndefined();
    expect(f.durationMs(s)).toBe(ms);
  }
  for (const s of ["", "2", "2 m", "m", "-1s", "1d"]) expect(f.duration(s)).toContain("expected a duration");
});

test("host names, IP-or-name and wildcard SANs", () => {
  for (const ok of ["node1", "node-1.example.com", "a", "x".repeat(63)]) expect(f.hostname(ok)).toBeUndefined();
  for (const bad of ["", "-a", "a-", "a..b", "a_b", "x".repeat(64), `${"a.".repeat(127)}ab`]) expect(f.hostname(bad)).toBeDefined();
  expect(f.ipOrDnsName("*.example.com")).toBeUndefined();
  expect(f.ipOrHostname("*.example.com")).toBeDefined();
  expect(f.ipOrHostname("fd00::1")).toBeUndefined();
});

test("endpoints: https with host and port; log endpoints udp or tcp", () => {
  expect(f.httpsEndpoint("https://node1.example.com:50000")).toBeUndefined();
  expect(f.httpsEndpoint("https://10.5.0.2:50000/")).toBeUndefined();
  expect(f.httpsEndpoint("https://user@10.5.0.2:50000")).toContain("nothing may follow the port");
  expect(f.httpsEndpoint("https://10.5.0.2:50000?x=1")).toBeDefined();
  expect(f.logEndpoint("tcp://[fd00::1]:5140")).toBeUndefined();
  expect(f.logEndpoint("udp://10.5.0.1")).toBeDefined();
  for (const bad of ["tcp://h:0", "tcp://h:1/path", "udp://h:1?x=1", "tcp://u@h:1"]) expect(f.logEndpoint(bad)).toBeDefined();
});

test("sysctl names may hold VLAN links (eth0/100) but not spaces", () => {
  expect(f.sysctlKey("net.ipv4.conf.eth0/100.rp_filter")).toBeUndefined();
  expect(f.sysctlKey("net.ipv4.ip forward")).toBeDefined();
  expect(f.sysctlKey("net")).toBeDefined();
});

test("did you mean: close keys only", () => {
  expect(editDistance("adresses", "addresses")).toBe(1);
  expect(closest("adresses", ["addresses", "routes"])).toBe("addresses");
  expect(closest("HostName", ["hostname"])).toBe("hostname");
  expect(closest("flavour", ["id", "secret", "clusterName"])).toBeUndefined();
  expect(closest("ab", ["xy"])).toBeUndefined();
});
