// What `gen config` writes is what the config loader accepts, and reading it back gives the
// same values: the generator and the schema agree.
import { expect, test } from "bun:test";
import { loadConfig } from "../core/config/load.ts";
import { parsePatches, type Json } from "../core/configpatch/patch.ts";
import { generateConfigs } from "../core/genconfig/genconfig.ts";
import { generateSecrets } from "../core/secrets/secrets.ts";

const secrets = generateSecrets();
const text = (g: ReturnType<typeof generateConfigs>, name: string) => g.files.find((f) => f.name === name)!.content;

/** Every leaf of `expected` is at the same path in `actual` (which may hold defaults besides). */
function leaves(v: Json, path: string[] = []): [string[], Json][] {
  if (v !== null && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => leaves(x as Json, [...path, k]));
  return [[path, v]];
}
function at(v: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o === null || typeof o !== "object" ? undefined : (o as Record<string, unknown>)[k]), v);
}

const variants: [string, Parameters<typeof generateConfigs>[0]][] = [
  ["plain", { clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets }],
  ["ipv6 endpoint, extra SANs, install disk", { clusterName: "lab-2", endpoint: "https://[fd00::2]:50000", secrets, additionalSans: ["node.example.com", "10.5.0.9"], installDisk: "/dev/vda" }],
  ["patched with network, time and sysctls", {
    clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets,
    patches: parsePatches("machine:\n  time: {servers: [time.example.com]}\n  sysctls: {net.ipv4.ip_forward: '1'}\n", "common"),
    patchesControlplane: parsePatches("machine:\n  network:\n    hostname: cp1\n    interfaces:\n      - interface: eth0\n        addresses: [10.5.0.2/24]\n        routes: [{network: 0.0.0.0/0, gateway: 10.5.0.1}]\n    nameservers: [1.1.1.1]\n", "cp"),
    patchesWorker: parsePatches('[{"op":"add","path":"/machine/network","value":{"hostname":"w1","interfaces":[{"interface":"eth0","dhcp":true}]}}]', "wk"),
  }],
];

for (const [name, input] of variants) {
  test(`generated configs (${name}) load in metal mode with no errors or warnings, and give back the same values`, () => {
    const g = generateConfigs(input);
    for (const [file, generated] of [["controlplane.yaml", g.controlplane], ["worker.yaml", g.worker]] as const) {
      const r = loadConfig(text(g, file), { mode: "metal" });
      expect({ file, errors: r.errors, warnings: r.warnings }).toEqual({ file, errors: [], warnings: [] });
      for (const [path, value] of leaves(generated)) expect({ file, path: path.join("."), value: at(r.config, path) }).toEqual({ file, path: path.join("."), value });
    }
  });
}

test("a generated worker with a CA key patched in is refused by the loader", () => {
  const g = generateConfigs({
    clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets,
    patchesWorker: parsePatches(`machine: {ca: {key: ${Buffer.from("x").toString("base64")}}}`, "leak"),
  });
  const r = loadConfig(text(g, "worker.yaml"), { mode: "metal" });
  expect(r.errors.some((e) => e.path.startsWith("machine.ca.key"))).toBe(true);
});
