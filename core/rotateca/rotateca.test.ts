import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { generateConfigs } from "../genconfig/genconfig.ts";
import { newClusterCA, toPemPair } from "../pki/issue.ts";
import { generateSecrets } from "../secrets/secrets.ts";
import { loadConfig } from "../config/load.ts";
import { behind, configAt, configCA, loadState, RotationError, saveState, type RotationState } from "./rotateca.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const secrets = generateSecrets();
const files = generateConfigs({ clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets }).files;
const gen = { controlplane: files.find((f) => f.name === "controlplane.yaml")!.content, worker: files.find((f) => f.name === "worker.yaml")!.content };
const oldCa = b64(toPemPair(secrets.os).crt);
const next = toPemPair(newClusterCA());
const newCa = { crt: b64(next.crt), key: b64(next.key) };
const other = b64(toPemPair(newClusterCA()).crt);

const machine = (text: string) => (parse(text) as { machine: { ca: { crt: string; key?: string }; acceptedCAs?: { crt: string }[] } }).machine;

test("each step changes only machine.ca and machine.acceptedCAs, and every result is a valid config", () => {
  const original = gen.controlplane;
  const accepted = configAt(original, "cp.yaml", "accepted", oldCa, newCa);
  expect(machine(accepted).ca.crt).toBe(oldCa);
  expect(machine(accepted).acceptedCAs).toEqual([{ crt: newCa.crt }]);
  const swapped = configAt(original, "cp.yaml", "swapped", oldCa, newCa);
  expect(machine(swapped).ca).toEqual({ crt: newCa.crt, key: newCa.key });
  expect(machine(swapped).acceptedCAs).toEqual([{ crt: oldCa }]);
  const dropped = configAt(original, "cp.yaml", "dropped", oldCa, newCa);
  expect(machine(dropped).ca).toEqual({ crt: newCa.crt, key: newCa.key });
  expect(machine(dropped).acceptedCAs).toBeUndefined();
  for (const t of [accepted, swapped, dropped]) {
    const a = parse(t) as { machine: Record<string, unknown> };
    const o = parse(original) as { machine: Record<string, unknown> };
    delete a.machine.ca; delete a.machine.acceptedCAs; delete o.machine.ca;
    expect(a).toEqual(o);
    expect(loadConfig(t, { mode: "container" }).errors).toEqual([]);
  }
});

test("a worker gets the new CA certificate but never a key; other accepted CAs stay in order", () => {
  const worker = gen.worker.replace(/^machine:\n/m, `machine:\n  acceptedCAs:\n    - crt: ${other}\n`);
  expect(configCA(worker, "w.yaml").hasKey).toBe(false);
  const swapped = configAt(worker, "w.yaml", "swapped", oldCa, newCa);
  expect(machine(swapped).ca).toEqual({ crt: newCa.crt });
  expect(machine(swapped).acceptedCAs).toEqual([{ crt: other }, { crt: oldCa }]);
  expect(machine(configAt(worker, "w.yaml", "dropped", oldCa, newCa)).acceptedCAs).toEqual([{ crt: other }]);
  // Computed from the original, a step given twice or out of order gives the same text.
  expect(configAt(worker, "w.yaml", "accepted", oldCa, newCa)).toBe(configAt(worker, "w.yaml", "accepted", oldCa, newCa));
});

test("a config of another CA, or not a node's, is refused naming the file", () => {
  expect(() => configAt(gen.controlplane, "cp.yaml", "accepted", other, newCa)).toThrow(new RotationError("cp.yaml: machine.ca.crt is not the CA being rotated (the client config's); pass the config these nodes run"));
  expect(() => configCA("version: v1alpha1\nmachine: {}\n", "x.yaml")).toThrow("x.yaml: machine.ca.crt is missing");
  expect(() => configCA("- a\n", "y.yaml")).toThrow("y.yaml: expected a machine config");
  expect(() => configAt(gen.controlplane.replace(/^machine:\n/m, "machine:\n  acceptedCAs: 3\n"), "z.yaml", "accepted", oldCa, newCa)).toThrow("z.yaml: machine.acceptedCAs: expected a list");
});

test("the state is written 0600 and read back; a damaged one is refused naming what is wrong", () => {
  const dir = mkdtempSync(join(tmpdir(), "rotateca-"));
  try {
    const path = join(dir, "state.json");
    expect(loadState(path)).toBeUndefined();
    const s: RotationState = {
      version: 1, clientConfig: "/x/bunkerconfig", context: "demo", startedAt: "2026-01-01T00:00:00.000Z",
      oldCa, newCa, oldAdmin: { crt: "a", key: "b" }, newAdmin: { crt: "c", key: "d" },
      configs: { "cp.yaml": gen.controlplane }, nodes: { "10.0.0.1:50000": { config: "cp.yaml", step: "accepted" }, "10.0.0.2:50000": { config: "cp.yaml", step: "pending" } },
      clientConfigWritten: false, backupContext: "demo-before-rotate",
    };
    saveState(path, s);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadState(path)).toEqual(s);
    expect(behind(s, "accepted")).toEqual(["10.0.0.2:50000"]);
    expect(behind(s, "swapped")).toEqual(["10.0.0.1:50000", "10.0.0.2:50000"]);
    writeFileSync(path, JSON.stringify({ ...s, nodes: { a: { config: "cp.yaml", step: "halfway" } } }));
    expect(() => loadState(path)).toThrow(`${path}: nodes.a.step: "halfway" is not one of pending, accepted, swapped, dropped`);
    writeFileSync(path, JSON.stringify({ version: 1 }));
    expect(() => loadState(path)).toThrow("not a rotation state of this version (missing clientConfig");
    writeFileSync(path, "{");
    expect(() => loadState(path)).toThrow(`${path}: not a rotation state`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
