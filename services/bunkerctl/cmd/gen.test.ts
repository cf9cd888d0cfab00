// `bunkerctl gen secrets` and `gen config` as an operator runs them (from source: the same code
// the binary holds), checked on disk and with openssl.
import { afterAll, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { loadSecrets } from "../../../core/secrets/secrets.ts";
import { runCtl } from "../testing.ts";

const root = mkdtempSync(join(tmpdir(), "bunker-gen-"));
let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, String(n++));
  mkdirSync(dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ctl = (...args: string[]) => runCtl(dir, { BUNKERCONFIG: join(dir, "home-config") }, ...args);
const yaml = (name: string) => parseDocument(readFileSync(join(dir, name), "utf8")).toJS();
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

test("gen config writes the four files 0600 and openssl verifies the admin chain with O=os:admin", () => {
  const r = ctl("gen", "config", "demo", "https://10.5.0.2:50000");
  expect(r).toEqual({ code: 0, err: "", out: "wrote controlplane.yaml\nwrote worker.yaml\nwrote bunkerconfig\nwrote secrets.yaml\n" });
  for (const f of ["controlplane.yaml", "worker.yaml", "bunkerconfig", "secrets.yaml"]) expect({ f, mode: statSync(join(dir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
  const ctx = yaml("bunkerconfig").contexts.demo;
  writeFileSync(join(dir, "ca.pem"), unb64(ctx.ca));
  writeFileSync(join(dir, "admin.pem"), unb64(ctx.crt));
  const v = Bun.spawnSync(["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "admin.pem"], { cwd: dir });
  expect(v.stdout.toString()).toBe("admin.pem: OK\n");
  const text = Bun.spawnSync(["openssl", "x509", "-noout", "-subject", "-in", "admin.pem"], { cwd: dir }).stdout.toString();
  expect(text).toBe("subject=O = os:admin, CN = admin\n");
  // every config of the cluster carries the same CA as the bundle
  const s = loadSecrets(join(dir, "secrets.yaml"));
  expect(unb64(yaml("controlplane.yaml").machine.ca.crt)).toBe(unb64(ctx.ca));
  expect(yaml("worker.yaml").machine.token).toBe(s.token);
});

test("never overwrites: when any output exists nothing is written; --force replaces all", () => {
  writeFileSync(join(dir, "worker.yaml"), "mine\n");
  const r = ctl("gen", "config", "demo", "https://10.5.0.2:50000");
  expect(r.code).toBe(1);
  expect(r.err).toBe("error: worker.yaml already exists; nothing was written (use --force to replace)\n");
  expect(readdirSync(dir).sort()).toEqual(["worker.yaml"]);
  expect(readFileSync(join(dir, "worker.yaml"), "utf8")).toBe("mine\n");
  expect(ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--force").code).toBe(0);
  expect(yaml("worker.yaml").machine.type).toBe("worker");
});

test("--with-secrets reuses a bundle (and does not copy it); --output-dir is created", () => {
  expect(ctl("gen", "secrets", "-o", "s.yaml")).toMatchObject({ code: 0, out: "wrote s.yaml\n" });
  expect(statSync(join(dir, "s.yaml")).mode & 0o777).toBe(0o600);
  const r = ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--with-secrets", "s.yaml", "--output-dir", "out/a");
  expect(r.code).toBe(0);
  expect(readdirSync(join(dir, "out/a")).sort()).toEqual(["bunkerconfig", "controlplane.yaml", "worker.yaml"]);
  const s = loadSecrets(join(dir, "s.yaml"));
  const cp = parseDocument(readFileSync(join(dir, "out/a/controlplane.yaml"), "utf8")).toJS();
  expect(cp.machine.token).toBe(s.token);
  expect(Buffer.from(cp.cluster.id, "base64")).toEqual(Buffer.from(s.cluster.id));
  // a second run with the same bundle gives the same secrets again
  expect(ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--with-secrets", "s.yaml", "--output-dir", "out/b").code).toBe(0);
  expect(parseDocument(readFileSync(join(dir, "out/b/worker.yaml"), "utf8")).toJS().machine.ca).toEqual(yaml("out/a/worker.yaml").machine.ca);
});

test("patches from flags: inline JSON, YAML @file, per type; --install-disk and --additional-sans", () => {
  writeFileSync(join(dir, "wk.yaml"), "- op: replace\n  path: /machine/install/disk\n  value: /dev/vdb\n");
  const r = ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--install-disk", "/dev/vda",
    "--additional-sans", "a.example,10.0.0.1", "--additional-sans", "b.example",
    "--config-patch", '{"machine":{"install":{"wipe":true}}}',
    "--config-patch-controlplane", "machine: {network: {hostname: cp1}}",
    "--config-patch-worker", "@wk.yaml");
  expect(r).toMatchObject({ code: 0, err: "" });
  const cp = yaml("controlplane.yaml");
  const wk = yaml("worker.yaml");
  expect(cp.machine.install).toEqual({ disk: "/dev/vda", wipe: true });
  expect(wk.machine.install).toEqual({ disk: "/dev/vdb", wipe: true });
  expect(cp.machine.network).toEqual({ hostname: "cp1" });
  expect(wk.machine.network).toBeUndefined();
  expect(cp.machine.certSANs).toEqual(["10.5.0.2", "a.example", "10.0.0.1", "b.example"]);
  expect(wk.machine.certSANs).toEqual(["a.example", "10.0.0.1", "b.example"]);
});

test("usage errors exit 2, failures exit 1, both saying why; nothing is written", () => {
  expect(ctl("gen", "config", "demo")).toMatchObject({ code: 2, err: expect.stringContaining("error: expected 2 arguments, got 1") });
  expect(ctl("gen", "config", "demo", "https://x:1", "--frob")).toMatchObject({ code: 2, err: expect.stringContaining('unknown option "--frob"') });
  expect(ctl("gen", "config", "demo", "http://10.5.0.2:50000")).toMatchObject({ code: 1, err: expect.stringContaining("must use https://") });
  expect(ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--config-patch", "@nope.yaml")).toMatchObject({ code: 1, err: "error: patch nope.yaml: cannot read it: ENOENT\n" });
  expect(ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--with-secrets", "nope.yaml")).toMatchObject({ code: 1, err: expect.stringContaining("cannot read secrets bundle nope.yaml: ENOENT") });
  expect(readdirSync(dir)).toEqual([]);
  expect(ctl("gen", "config", "--help")).toMatchObject({ code: 0, out: expect.stringContaining("Usage: bunkerctl gen config CLUSTER-NAME") });
});

test("gen secrets refuses to replace a bundle without --force", () => {
  expect(ctl("gen", "secrets").code).toBe(0);
  const before = readFileSync(join(dir, "secrets.yaml"), "utf8");
  expect(ctl("gen", "secrets")).toMatchObject({ code: 1, err: "error: secrets.yaml already exists; nothing was written (use --force to replace)\n" });
  expect(readFileSync(join(dir, "secrets.yaml"), "utf8")).toBe(before);
  expect(ctl("gen", "secrets", "--force").code).toBe(0);
  expect(readFileSync(join(dir, "secrets.yaml"), "utf8")).not.toBe(before);
  expect(existsSync(join(dir, "home-config"))).toBe(false);
});
