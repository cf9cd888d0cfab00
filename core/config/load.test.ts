/**
 * The config loader, case by case: every rule of the schema and the semantic checks, with the
 * place and words of each error. Over 400 lines on purpose: a table of small independent cases,
 * one per rule, read best side by side.
 */
import { describe, expect, test } from "bun:test";
import { stringify } from "yaml";
import { formatProblems, loadConfig, type Problem } from "./config.ts";
import { edit, fixture, opensslCert, posOf, strayKeyB64, valueOf } from "./testdata/fixtures.ts";

const CP = fixture("controlplane.yaml");
const WK = fixture("worker.yaml");

/** The one problem at `path`; its position and message are then checked. */
function only(list: Problem[], path: string): Problem {
  const hits = list.filter((p) => p.path === path);
  if (hits.length !== 1) throw new Error(`expected one problem at ${path}, found ${hits.length} among:\n${list.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`).join("\n")}`);
  return hits[0]!;
}

function expectError(text: string, path: string, at: { line: number; column: number }, message: string | RegExp, mode?: "metal" | "qemu" | "container") {
  const r = loadConfig(text, { mode });
  expect(r.config).toBeUndefined();
  const p = only(r.errors, path);
  expect({ line: p.line, column: p.column }).toEqual(at);
  expect(p.message).toMatch(message);
  return r;
}

function expectWarning(text: string, path: string, at: { line: number; column: number }, message: string | RegExp, mode?: "metal" | "qemu" | "container") {
  const r = loadConfig(text, { mode });
  expect(r.errors).toEqual([]);
  expect(r.config).toBeDefined();
  const p = only(r.warnings, path);
  expect({ line: p.line, column: p.column }).toEqual(at);
  expect(p.message).toMatch(message);
}

describe("valid samples", () => {
  test("the controlplane and worker samples are valid with no warnings in metal mode", () => {
    for (const text of [CP, WK]) {
      const r = loadConfig(text);
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([]);
      expect(r.config?.version).toBe("v1alpha1");
    }
  });

  test("defaults are filled in", () => {
    const c = loadConfig(WK).config!;
    expect(c.debug).toBe(false);
    // No servers: left out, they are told apart from a list written (networkd owns the default).
    expect(c.machine.time).toEqual({ disabled: false, bootTimeout: "2m" });
    expect(c.machine.network.interfaces[0]).toEqual({ interface: "eth0", dhcp: true, addresses: [], routes: [], ignore: false, vlans: [] });
    expect(c.machine.install).toMatchObject({ wipe: false, image: "", extraKernelArgs: [] });
    expect(c.machine.sysctls).toEqual({});
    const cp = loadConfig(CP).config!;
    expect(cp.machine.network.interfaces[0]!.routes[1]!.metric).toBe(1024);
    expect(cp.machine.files[0]!.permissions).toBe(0o644);
    // A sysctl written as a YAML number becomes the string the kernel reads.
    expect(cp.machine.sysctls["vm.max_map_count"]).toBe("262144");
  });

  test("a full config round-trips: load, stringify, load gives equal values", () => {
    for (const text of [CP, WK]) {
      const first = loadConfig(text).config!;
      const again = loadConfig(stringify(first));
      expect(again.errors).toEqual([]);
      expect(again.config).toEqual(first);
    }
  });
});

describe("YAML-level problems", () => {
  test("an empty file", () => {
    const r = loadConfig("# nothing\n");
    expect(r.errors).toEqual([{ path: "(root)", line: 1, column: 1, message: expect.stringContaining("holds no document") }]);
  });

  test("a list where the document's map belongs", () => {
    expectError("- a\n- b\n", "(root)", { line: 1, column: 1 }, "expected a map, found a list");
  });

  test("two documents", () => {
    const text = WK + "---\nversion: v1alpha1\n";
    expectError(text, "(root)", posOf(text, "---\nversion"), 'expected one YAML document, found 2');
  });

  test("a duplicate key names both places", () => {
    const text = edit(WK, "  clusterName: demo\n", "  clusterName: demo\n  clusterName: other\n");
    const first = posOf(text, "clusterName: demo");
    expectError(text, "cluster.clusterName", posOf(text, "clusterName: other"), `duplicate key "clusterName" (first at line ${first.line}, column ${first.column})`);
  });

  test("a tab used as indentation", () => {
    const text = edit(WK, "  token:", "\ttoken:");
    const r = loadConfig(text);
    expect(r.config).toBeUndefined();
    const tab = r.errors.find((p) => /Tabs/.test(p.message))!;
    expect({ line: tab.line, column: tab.column }).toEqual(posOf(text, "\ttoken"));
    expect(tab.message).toContain("indent with spaces");
  });

  test("an unclosed quote is a syntax error with its position", () => {
    const text = edit(WK, "clusterName: demo", 'clusterName: "demo');
    const r = loadConfig(text);
    expect(r.config).toBeUndefined();
    expect(r.errors.length).toBeGreaterThan(0);
    for (const p of r.errors) expect(p.line).toBeGreaterThanOrEqual(posOf(text, '"demo').line);
    expect(r.errors[0]!.message).toMatch(/YAML syntax: Missing closing "quote/);
  });

  test("an alias to an anchor that does not exist", () => {
    const text = edit(WK, "clusterName: demo", "clusterName: *nowhere");
    expectError(text, "cluster.clusterName", posOf(text, "*nowhere"), "the alias *nowhere names no anchor");
  });

  test("an alias bomb is refused without expanding it", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill("*" + String.fromCharCode(96 + i)).join(", ")}]`);
    const r = loadConfig(levels.join("\n") + "\n");
    expect(r.config).toBeUndefined();
    expect(r.errors.some((p) => p.message.includes("expands to more than"))).toBe(true);
  });

  test("anchors and aliases that are legal are followed", () => {
    const text = edit(CP, "    nameservers: [1.1.1.1, \"2606:4700:4700::1111\"]", "    nameservers: &ns [1.1.1.1]\n    searchDomains: *ns");
    const text2 = edit(text, "    searchDomains: [example.com]\n", "");
    const r = loadConfig(text2);
    expect(r.errors).toEqual([]);
    expect(r.config!.machine.network.searchDomains).toEqual(["1.1.1.1"]);
  });
});

describe("schema problems: path, line:column, expected and found", () => {
  test("an unknown key with a near miss suggests the right one", () => {
    const text = edit(WK, "        dhcp: true", "        dhcp: true\n        adresses: [10.0.0.1/24]");
    expectError(text, "machine.network.interfaces[0].adresses", posOf(text, "adresses"), 'unknown key "adresses": did you mean "addresses"?');
  });

  test("an unknown key far from any lists the known ones", () => {
    const text = edit(WK, "  clusterName: demo", "  clusterName: demo\n  flavour: vanilla");
    expectError(text, "cluster.flavour", posOf(text, "flavour"), "known keys: id, secret, clusterName, controlPlane, etcd");
  });

  test("a known key in the wrong place says where it belongs", () => {
    const text = edit(WK, "  type: worker", "  type: worker\n  hostname: node2");
    expectError(text, "machine.hostname", posOf(text, "hostname: node2"), 'unknown key "hostname": it belongs at machine.network.hostname');
  });

  test("a missing required key is reported at its parent", () => {
    const text = edit(WK, "  token: abcdef.0123456789abcdef\n", "");
    expectError(text, "machine.token", posOf(text, "machine:"), 'missing required key "token" (expected a string)');
  });

  test("a missing top-level section", () => {
    const text = WK.slice(0, WK.indexOf("cluster:"));
    expectError(text, "cluster", { line: posOf(text, "version:").line, column: 1 }, 'missing required key "cluster" (expected a map)');
  });

  test("a wrong type says what was expected and what was found", () => {
    const text = edit(CP, "mtu: 1500", 'mtu: "1500"');
    expectError(text, "machine.network.interfaces[0].mtu", posOf(text, '"1500"'), 'expected an integer, found the string "1500" (write the number without quotes)');
  });

  test("yes is not a boolean in YAML 1.2", () => {
    const text = edit(WK, "dhcp: true", "dhcp: yes");
    expectError(text, "machine.network.interfaces[0].dhcp", posOf(text, "yes"), /expected true or false, found the string "yes" \(YAML 1.2 reads yes as a string/);
  });

  test("a map where a list belongs", () => {
    const text = edit(CP, "certSANs: [10.5.0.2, node1.example.com]", "certSANs: {a: 1}");
    expectError(text, "machine.certSANs", posOf(text, "{a: 1}"), "expected a list of strings, found a map");
  });

  test("an empty value where a map belongs", () => {
    const text = edit(WK, "    diskSelector:\n      size: \">= 10GB\"\n      model: \"QEMU*\"\n", "    diskSelector:\n");
    expectError(text, "machine.install.diskSelector", posOf(text, "diskSelector:"), "expected a map, found nothing (an empty value)");
  });

  test("a value outside a list of choices suggests the closest", () => {
    const text = edit(WK, "type: worker", "type: workr");
    expectError(text, "machine.type", posOf(text, "workr"), 'expected one of controlplane, worker, found the string "workr": did you mean "worker"?');
  });

  test("the version must be v1alpha1", () => {
    const text = edit(WK, "version: v1alpha1", "version: v1");
    expectError(text, "version", posOf(text, "v1\n"), 'expected "v1alpha1", found the string "v1"');
  });

  test("numbers out of range and not integers", () => {
    let text = edit(CP, "vlanId: 100", "vlanId: 5000");
    expectError(text, "machine.network.interfaces[0].vlans[0].vlanId", posOf(text, "vlanId: 5000", 8), "expected at most 4094, found the number 5000");
    text = edit(CP, "metric: 1024}", "metric: 1.5}");
    expectError(text, "machine.network.interfaces[0].routes[0].metric", posOf(text, "1.5}"), "expected an integer, found the number 1.5");
    text = edit(CP, "permissions: 0o644", "permissions: 0o17777");
    expectError(text, "machine.files[0].permissions", posOf(text, "0o17777"), "expected at most 0o7777 (4095), found the number 8191");
  });

  test("MTU range", () => {
    const text = edit(CP, "mtu: 1500", "mtu: 60");
    expectError(text, "machine.network.interfaces[0].mtu", posOf(text, "60\n"), "expected at least 68, found the number 60");
  });

  test("a bond needs at least one member", () => {
    const text = edit(CP, "interfaces: [eth1, eth2]", "interfaces: []");
    expectError(text, "machine.network.interfaces[1].bond.interfaces", posOf(text, "[]"), "expected at least 1 item, found 0");
  });
});

/**
 * One edit of a sample that makes one value ill-formed: [what, sample, from, to, path, message,
 * where in `to` the error must point (default: the value after "key: ")].
 */
type FormCase = [string, string, string, string, string, string | RegExp, string?];
const SECRET = valueOf(WK, "secret");
const FORM_CASES: FormCase[] = [
  ["IPv6 prefix too long", CP, '"fd00::2/64"', '"fd00::2/129"', "machine.network.interfaces[0].addresses[1]", /the prefix length must be 0-128 for IPv6/, '"fd00'],
  ["CIDR without a prefix", CP, "addresses: [10.5.0.2/24,", "addresses: [10.5.0.2,", "machine.network.interfaces[0].addresses[0]", 'a prefix length is missing (e.g. "10.5.0.2/24")', "10.5"],
  ["CIDR with a bad IPv4", CP, "addresses: [10.5.0.2/24,", "addresses: [10.5.0.300/24,", "machine.network.interfaces[0].addresses[0]", '"10.5.0.300" is not an IPv4 or IPv6 address', "10.5"],
  ["a short IPv4", CP, "nameservers: [1.1.1.1,", "nameservers: [1.1.1,", "machine.network.nameservers[0]", 'expected an IPv4 or IPv6 address, found "1.1.1"', "1.1"],
  ["an IPv4 octet with a leading zero", CP, "gateway: 10.5.0.1,", "gateway: 10.5.0.01,", "machine.network.interfaces[0].routes[0].gateway", "expected an IPv4 or IPv6 address"],
  ["a route network with host bits", CP, "network: 0.0.0.0/0,", "network: 10.5.0.7/24,", "machine.network.interfaces[0].routes[0].network", "no host bits set"],
  ...["http://10.5.0.2:50000", "https://10.5.0.2", "https://10.5.0.2:50000/api", "10.5.0.2:50000"].map((bad): FormCase =>
    [`endpoint ${bad}`, WK, "endpoint: https://10.5.0.2:50000", `endpoint: ${bad}`, "cluster.controlPlane.endpoint", "expected an https URL with a host and a port"]),
  ...["sda", "/dev/../etc/passwd", "/mnt/sda", "/dev/"].map((bad): FormCase =>
    [`install disk ${bad}`, CP, "disk: /dev/sda", `disk: ${bad}`, "machine.install.disk", /device path/]),
  ...["-node1", "node_1", "a".repeat(64), "node1..example"].map((bad): FormCase =>
    [`host name ${bad}`, CP, "hostname: node1", `hostname: ${bad}`, "machine.network.hostname", /host name|labels/]),
  ["a sysctl name of the wrong form", CP, "vm.max_map_count: 262144", "Vm..max: 1", 'machine.sysctls["Vm..max"]', "expected a sysctl name of dot-separated parts", "Vm"],
  ["a sysctl outside /proc/sys's trees", CP, "vm.max_map_count: 262144", "foo.bar: 1", 'machine.sysctls["foo.bar"]', 'found the tree "foo"', "foo"],
  ["a relative file path", CP, "path: /var/etc/motd", "path: var/etc/motd", "machine.files[0].path", "expected an absolute path"],
  ["a file on the read-only root", CP, "path: /var/etc/motd", "path: /etc/motd", "machine.files[0].path", "under one of the writable roots /var, /system/state, /run, /tmp"],
  ["a file path with ..", CP, "path: /var/etc/motd", "path: /var/../etc/motd", "machine.files[0].path", "normalized"],
  ["a duration in words", CP, "bootTimeout: 2m", "bootTimeout: 2 minutes", "machine.time.bootTimeout", "expected a duration like 30s, 2m or 1h30m"],
  ["a short token", WK, "token: abcdef.0123456789abcdef", "token: short", "machine.token", "expected a token of 6 and 16"],
  ["a short cluster secret", WK, `secret: ${SECRET}`, "secret: c2hvcnQ=", "cluster.secret", "expected base64 of 32 bytes, found 5 bytes"],
];

describe("value forms", () => {
  for (const [what, base, from, to, path, message, at] of FORM_CASES) {
    test(what, () => {
      const text = edit(base, from, to);
      // The error points at the edited value: where `at` (or the text after "key: ") starts.
      const skip = at !== undefined ? to.indexOf(at) : to.indexOf(": ") + 2;
      expectError(text, path, posOf(text, to, skip), message);
    });
  }

  test("an IPv6 endpoint in brackets is fine", () => {
    const v6 = edit(WK, "endpoint: https://10.5.0.2:50000", "endpoint: https://[fd00::2]:50000");
    expect(loadConfig(v6).errors).toEqual([]);
  });

  test("CA certificates are base64 PEM that parse", () => {
    const crt = valueOf(WK, "crt");
    let text = edit(WK, `crt: ${crt}\n  network`, "crt: not-base64!\n  network");
    expectError(text, "machine.ca.crt", posOf(text, "not-base64!"), "expected base64 of a PEM block");
    text = edit(WK, `crt: ${crt}\n  network`, `crt: ${Buffer.from("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").toString("base64")}\n  network`);
    expectError(text, "machine.ca.crt", posOf(text, "crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUE", 5), "the certificate does not parse");
    const raw = Buffer.from(crt, "base64").toString().split("\n")[0]!;
    text = edit(WK, `crt: ${crt}\n  network`, `crt: "${raw}"\n  network`);
    expectError(text, "machine.ca.crt", posOf(text, `"${raw}"`), "found raw PEM");
    const keyB64 = valueOf(CP, "key");
    text = edit(WK, `crt: ${crt}\n  network`, `crt: ${keyB64}\n  network`);
    expectError(text, "machine.ca.crt", posOf(text, `crt: ${keyB64}`, 5), 'found a PEM "PRIVATE KEY" block');
  });
});

describe("rules that relate fields", () => {
  const CA_KEY = valueOf(CP, "key");

  test("a controlplane carries both CA keys", () => {
    let text = edit(CP, `    key: ${CA_KEY}\n  certSANs`, "  certSANs");
    expectError(text, "machine.ca", posOf(text, "  ca:\n    crt", 2), "a controlplane needs machine.ca.key");
    const etcdKey = CP.match(/^      key: (\S+)$/m)![1]!;
    text = edit(CP, `      key: ${etcdKey}\n`, "");
    expectError(text, "cluster.etcd.ca", posOf(text, "    ca:\n      crt", 4), "a controlplane needs cluster.etcd.ca.key");
  });

  test("a worker carries no CA key", () => {
    const crt = valueOf(WK, "crt");
    const text = edit(WK, `    crt: ${crt}\n  network`, `    crt: ${crt}\n    key: ${CA_KEY}\n  network`);
    expectError(text, "machine.ca.key", posOf(text, `key: ${CA_KEY}`, 5), "a worker must not carry the private key of the cluster CA");
  });

  test("the CA key must belong to the CA certificate", () => {
    const stray = strayKeyB64();
    const text = edit(CP, `key: ${CA_KEY}`, `key: ${stray}`);
    expectError(text, "machine.ca.key", posOf(text, stray), "the key does not belong to the certificate in machine.ca.crt");
  });

  test("interface names are unique", () => {
    const text = edit(CP, "      - interface: bond0", "      - interface: eth0");
    const r = loadConfig(text);
    const dup = only(r.errors, "machine.network.interfaces[1].interface");
    expect({ line: dup.line, column: dup.column }).toEqual(posOf(text, "eth0\n        dhcp", 0));
    expect(dup.message).toBe('duplicate interface "eth0": already configured at machine.network.interfaces[0]');
  });

  test("VLAN ids are unique per interface", () => {
    const text = edit(CP, "            mtu: 1400\n", "            mtu: 1400\n          - vlanId: 100\n\n");
    expectError(text, "machine.network.interfaces[0].vlans[1].vlanId", posOf(text, "- vlanId: 100\n\n", 10), "duplicate VLAN id 100 on eth0");
  });

  test("duplicate routes", () => {
    const text = edit(CP, "          - {network: \"::/0\"", "          - {network: 0.0.0.0/0, gateway: 10.5.0.1}\n          - {network: \"::/0\"");
    expectError(text, "machine.network.interfaces[0].routes[1]", posOf(text, "{network: 0.0.0.0/0, gateway: 10.5.0.1}"), "duplicate route: the same network, gateway and metric as machine.network.interfaces[0].routes[0]");
  });

  test("the gateway's family matches the network's", () => {
    const text = edit(CP, 'gateway: "fd00::1"', "gateway: 10.5.0.1");
    expectError(text, "machine.network.interfaces[0].routes[1].gateway", posOf(text, "gateway: 10.5.0.1}", 9), "the gateway is IPv4 but the network ::/0 is IPv6");
  });

  test("bond members are not configured as interfaces", () => {
    const text = edit(CP, "      - interface: bond0", "      - interface: eth1\n        dhcp: true\n      - interface: bond0");
    expectError(text, "machine.network.interfaces[2].bond.interfaces[0]", posOf(text, "eth1, eth2"), '"eth1" is a member of the bond bond0 and also configured at machine.network.interfaces[1]');
  });

  test("install.disk and install.diskSelector exclude each other", () => {
    const text = edit(CP, "    disk: /dev/sda\n", "    disk: /dev/sda\n    diskSelector: {size: \">= 10GB\"}\n");
    expectError(text, "machine.install.diskSelector", posOf(text, "{size"), "exclude each other");
  });

  test("an install section with no target is an error on metal, ignored in a container", () => {
    const text = edit(WK, "    diskSelector:\n      size: \">= 10GB\"\n      model: \"QEMU*\"\n", "    wipe: false\n");
    expectError(text, "machine.install", posOf(text, "  install:", 2), "install needs disk (like /dev/sda) or diskSelector in metal mode");
    expectWarning(text, "machine.install", posOf(text, "  install:", 2), "in container mode", "container");
  });

  test("two files created at one path", () => {
    const text = edit(CP, "      op: create\n", "      op: create\n    - {path: /var/etc/motd, content: x}\n");
    expectError(text, "machine.files[1].path", posOf(text, "/var/etc/motd, content"), 'is already created by machine.files[0]');
  });

  test("a config broken only in rules relating fields: every problem at once, as in the golden file", () => {
    const r = loadConfig(fixture("semantic-errors.yaml"));
    expect(r.config).toBeUndefined();
    expect(formatProblems("semantic-errors.yaml", r.errors, r.warnings)).toBe(fixture("semantic-errors.txt").trimEnd());
  });

  test("every problem is listed at once", () => {
    let text = edit(CP, "mtu: 1500", "mtu: 1");
    text = edit(text, "hostname: node1", "hostname: -x");
    text = edit(text, "type: controlplane", "type: boss");
    text = edit(text, "clusterName: demo", "clusterName: demo\n  extra: 1");
    text = edit(text, "bootTimeout: 2m", "bootTimeout: soon");
    const r = loadConfig(text);
    expect(r.errors.map((p) => p.path).sort()).toEqual([
      "cluster.extra", "machine.network.hostname", "machine.network.interfaces[0].mtu", "machine.time.bootTimeout", "machine.type",
    ]);
  });
});

describe("warnings", () => {
  test("no install disk on metal, and not in qemu or container mode", () => {
    const text = WK.slice(0, WK.indexOf("  install:")) + WK.slice(WK.indexOf("cluster:"));
    expectWarning(text, "machine", posOf(text, "machine:"), "no install disk");
    expect(loadConfig(text, { mode: "qemu" }).warnings).toEqual([]);
    expect(loadConfig(text, { mode: "container" }).warnings.map((w) => w.path)).toEqual(["machine.network.interfaces"]);
  });

  test("DHCP and static addresses on one link", () => {
    const text = edit(CP, "        mtu: 1500\n", "        mtu: 1500\n        dhcp: true\n");
    expectWarning(text, "machine.network.interfaces[0].addresses", posOf(text, "[10.5.0.2/24"), "static addresses and DHCP on the same link");
  });

  test("MTU above 9000", () => {
    const text = edit(CP, "mtu: 1500", "mtu: 9216");
    expectWarning(text, "machine.network.interfaces[0].mtu", posOf(text, "9216"), "above 9000");
  });

  test("wipe: true", () => {
    const text = edit(CP, "wipe: false", "wipe: true");
    expectWarning(text, "machine.install.wipe", posOf(text, "true\n    image"), "everything on it is lost");
  });

  test("an endpoint IP that is not in certSANs nor the node's addresses", () => {
    const text = edit(CP, "https://10.5.0.2:50000", "https://10.5.0.99:50000");
    expectWarning(text, "cluster.controlPlane.endpoint", posOf(text, "https://10.5.0.99"), "is not in machine.certSANs");
    // A worker's endpoint is some controlplane's address: nothing to compare with.
    expect(loadConfig(edit(WK, "https://10.5.0.2:50000", "https://10.5.0.99:50000")).warnings).toEqual([]);
  });

  test("permissions written as 0644 are decimal in YAML 1.2", () => {
    const text = edit(CP, "permissions: 0o644", "permissions: 0644");
    const r = loadConfig(text);
    const w = only(r.warnings, "machine.files[0].permissions");
    expect({ line: w.line, column: w.column }).toEqual(posOf(text, "0644"));
    expect(w.message).toBe("0644 is the decimal number 644 in YAML 1.2 (mode 0o1204); for octal write 0o644");
    // A document that asks for YAML 1.1 gets octal, and no warning.
    const r11 = loadConfig("%YAML 1.1\n---\n" + text);
    expect(r11.config!.machine.files[0]!.permissions).toBe(0o644);
    expect(r11.warnings).toEqual([]);
  });

  test("a gateway outside the link's subnets", () => {
    const text = edit(CP, "gateway: 10.5.0.1,", "gateway: 10.6.0.1,");
    expectWarning(text, "machine.network.interfaces[0].routes[0].gateway", posOf(text, "10.6.0.1"), "in none of this link's subnets");
  });

  test("CA certificates: the expected algorithms, marked as CAs, not expired", () => {
    const [osCrt, etcdCrt] = [...CP.matchAll(/^\s*crt: (\S+)$/gm)].map((m) => m[1]!);
    const [osKey, etcdKey] = [...CP.matchAll(/^\s*key: (\S+)$/gm)].map((m) => m[1]!);
    // Swap the two CAs: each is then of the other's algorithm.
    let text = CP.replace(osCrt!, "OS_CRT").replace(osKey!, "OS_KEY").replace(etcdCrt!, osCrt!).replace(etcdKey!, osKey!).replace("OS_CRT", etcdCrt!).replace("OS_KEY", etcdKey!);
    let r = loadConfig(text);
    expect(r.errors).toEqual([]);
    expect(only(r.warnings, "machine.ca.crt").message).toBe("the cluster CA is expected to be Ed25519 (as bunkerctl gen config makes it), found ECDSA P-256");
    expect(only(r.warnings, "cluster.etcd.ca.crt").message).toBe("the etcd CA is expected to be ECDSA P-256 (as bunkerctl gen config makes it), found Ed25519");

    const expired = opensslCert({ ca: true, start: "20200101000000Z", end: "20210101000000Z" });
    text = CP.replace(osCrt!, expired.crt).replace(osKey!, expired.key);
    r = loadConfig(text);
    expect(r.errors).toEqual([]);
    const w = only(r.warnings, "machine.ca.crt");
    expect({ line: w.line, column: w.column }).toEqual(posOf(text, expired.crt));
    expect(w.message).toBe("the certificate of the cluster CA expired on 2021-01-01T00:00:00.000Z");

    const leaf = opensslCert({ ca: false, start: "20250101000000Z", end: "20990101000000Z" });
    r = loadConfig(CP.replace(osCrt!, leaf.crt).replace(osKey!, leaf.key));
    expect(r.errors).toEqual([]);
    expect(only(r.warnings, "machine.ca.crt").message).toContain("is not marked as a CA");
  });

  test("a container ignores links, install and kernel args", () => {
    const r = loadConfig(CP, { mode: "container" });
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.path).sort()).toEqual(["machine.install", "machine.kernel.args", "machine.network.interfaces", "machine.time.servers"]);
  });
});
