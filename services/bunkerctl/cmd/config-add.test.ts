// `bunkerctl config add` and `config remove` on a real client config file, with PEM files that
// `bunkerctl gen config` made (and another cluster's, which must be refused).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentContext, loadClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { runCtl } from "../testing.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-config-add-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home", ".bunker", "config");
const ctl = (...args: string[]) => runCtl(dir, { BUNKERCONFIG: home }, ...args);

/** The CA, client certificate and key of a generated cluster, as PEM files. */
function pems(name: string): { ca: string; crt: string; key: string; b64: { ca: string; crt: string; key: string } } {
  expect(ctl("gen", "config", name, "https://10.5.0.2:50000", "--output-dir", name).code).toBe(0);
  const c = currentContext(loadClientConfig(join(dir, name, "bunkerconfig"))).ctx;
  const out = { ca: join(dir, `${name}-ca.crt`), crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), b64: { ca: c.ca, crt: c.crt, key: c.key } };
  for (const f of ["ca", "crt", "key"] as const) writeFileSync(out[f], Buffer.from(c[f], "base64"));
  return out;
}

test("config add: checked PEM files become a context; taken names need --force; config remove", () => {
  const a = pems("alpha");
  const b = pems("beta");
  const added = ctl("config", "add", "prod", "-e", "10.5.0.2,10.5.0.3", "-n", "10.5.0.7", "--ca", a.ca, "--crt", a.crt, "--key", a.key);
  expect(added).toEqual({ code: 0, out: `added context "prod" (endpoints 10.5.0.2, 10.5.0.3)\ncurrent context: prod\nwrote ${home}\n`, err: "" });
  expect(statSync(home).mode & 0o777).toBe(0o600);
  expect(loadClientConfig(home)).toEqual({ context: "prod", contexts: { prod: { endpoints: ["10.5.0.2", "10.5.0.3"], nodes: ["10.5.0.7"], ...a.b64 } } });
  // The file holds the key; the output does not.
  expect(added.out).not.toContain(readFileSync(a.key, "utf8").split("\n")[1]!);

  // Checked before anything is written: another cluster's certificate, a key not the certificate's.
  const foreign = ctl("config", "add", "lab", "-e", "10.6.0.2", "--ca", a.ca, "--crt", b.crt, "--key", b.key);
  expect(foreign.code).toBe(1);
  expect(foreign.err).toContain(`--crt ${b.crt} was not issued by --ca ${a.ca}`);
  const mismatch = ctl("config", "add", "lab", "-e", "10.6.0.2", "--ca", a.ca, "--crt", a.crt, "--key", b.key);
  expect(mismatch.err).toContain("the key does not belong to the certificate");
  expect(ctl("config", "add", "lab", "-e", "10.6.0.2", "--ca", a.ca, "--crt", a.crt, "--key", join(dir, "missing.key")).err).toContain("missing.key: cannot read it: ENOENT");
  expect(ctl("config", "add", "lab", "--ca", a.ca, "--crt", a.crt, "--key", a.key).code).toBe(2); // no endpoint
  expect(ctl("config", "add", "a b", "-e", "10.6.0.2", "--ca", a.ca, "--crt", a.crt, "--key", a.key).err).toContain('context name "a b"');
  expect(Object.keys(loadClientConfig(home).contexts)).toEqual(["prod"]);

  expect(ctl("config", "add", "lab", "-e", "10.6.0.2", "--ca", b.ca, "--crt", b.crt, "--key", b.key).out).toContain("current context: prod\n");
  const taken = ctl("config", "add", "lab", "-e", "10.6.0.9", "--ca", b.ca, "--crt", b.crt, "--key", b.key);
  expect(taken).toMatchObject({ code: 1, err: 'error: context "lab" already exists: choose another name, or replace it with --force\n' });
  expect(ctl("config", "add", "lab", "-e", "10.6.0.9", "--ca", b.ca, "--crt", b.crt, "--key", b.key, "--force").out).toStartWith('replaced context "lab"');
  expect(loadClientConfig(home).contexts.lab!.endpoints).toEqual(["10.6.0.9"]);

  expect(ctl("config", "remove", "lab").out).toBe(`removed context "lab"\ncurrent context: prod\nwrote ${home}\n`);
  expect(ctl("config", "remove", "lab")).toMatchObject({ code: 1, err: 'error: no context "lab"; known: prod\n' });
  expect(ctl("config", "remove", "prod").out).toBe(`removed context "prod"\nno current context\nwrote ${home}\n`);
  expect(loadClientConfig(home)).toEqual({ context: "", contexts: {} });
}, 60_000); // some twenty bunkerctl runs from source
