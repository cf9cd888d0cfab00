// The operator's first steps with the compiled binary (scripts/test.sh builds out/bunker):
// gen config, then openssl checks the chain in what it wrote.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";

const bin = resolve(import.meta.dir, "../out/bunker");
let dir: string;
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  dir = mkdtempSync(join(tmpdir(), "bunker-gen-bin-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, ...args: string[]) => {
  const r = Bun.spawnSync([cmd, ...args], { cwd: dir, env: { PATH: "/usr/bin:/bin", HOME: dir } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

test("bunker ctl gen config writes configs that validate, whose CAs and admin certificate openssl accepts", () => {
  expect(run(bin, "ctl", "gen", "config", "demo", "https://10.5.0.2:50000").code).toBe(0);
  for (const f of ["controlplane.yaml", "worker.yaml"]) {
    expect(run(bin, "ctl", "validate", "-f", f)).toEqual({ code: 0, out: `${f}: valid for metal mode (0 errors, 0 warnings)\n`, err: "" });
  }
  const read = (f: string) => parseDocument(readFileSync(join(dir, f), "utf8")).toJS();
  const pem = (s: string) => Buffer.from(s, "base64").toString("utf8");
  const cp = read("controlplane.yaml");
  const ctx = read("bunkerconfig").contexts.demo;
  writeFileSync(join(dir, "ca.pem"), pem(cp.machine.ca.crt));
  writeFileSync(join(dir, "etcd-ca.pem"), pem(cp.cluster.etcd.ca.crt));
  writeFileSync(join(dir, "admin.pem"), pem(ctx.crt));
  writeFileSync(join(dir, "admin.key"), pem(ctx.key));
  expect(run("openssl", "verify", "-x509_strict", "-CAfile", "ca.pem", "ca.pem").out).toBe("ca.pem: OK\n");
  expect(run("openssl", "verify", "-x509_strict", "-CAfile", "etcd-ca.pem", "etcd-ca.pem").out).toBe("etcd-ca.pem: OK\n");
  expect(run("openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "admin.pem").out).toBe("admin.pem: OK\n");
  const text = run("openssl", "x509", "-text", "-noout", "-in", "admin.pem").out;
  expect(text).toContain("Subject: O = os:admin, CN = admin");
  expect(text).toContain("TLS Web Client Authentication");
  expect(run("openssl", "pkey", "-in", "admin.key", "-noout").code).toBe(0);
  // the client config works from HOME's default path after a merge
  expect(run(bin, "ctl", "config", "merge", "bunkerconfig").code).toBe(0);
  expect(existsSync(join(dir, ".bunker", "config"))).toBe(true);
  expect(run(bin, "ctl", "config", "info").out).toContain("roles:          os:admin");
}, 30_000);
