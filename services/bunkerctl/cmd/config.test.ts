// `bunkerctl config ...` on a real client config file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { runCtl } from "../testing.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-config-cmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home", ".bunker", "config");
const ctl = (...args: string[]) => runCtl(dir, { BUNKERCONFIG: home }, ...args);

test("merge, contexts, context, endpoint, node and info on the file $BUNKERCONFIG names", () => {
  expect(ctl("gen", "config", "demo", "https://10.5.0.2:50000", "--output-dir", "a").code).toBe(0);
  expect(ctl("gen", "config", "demo", "https://10.6.0.2:50000", "--output-dir", "b").code).toBe(0);
  expect(ctl("gen", "config", "lab", "https://192.0.2.1:50000", "--output-dir", "c").code).toBe(0);

  expect(ctl("config", "merge", "a/bunkerconfig").out).toBe(`added context "demo"\ncurrent context: demo\nwrote ${home}\n`);
  expect(statSync(home).mode & 0o777).toBe(0o600);
  expect(ctl("config", "merge", "a/bunkerconfig").out).toStartWith("nothing new to merge\n");
  // another cluster with the same name does not replace the first one's credentials
  expect(ctl("config", "merge", "b/bunkerconfig").out).toContain('context "demo" already exists with other settings: merged as "demo-1"');
  expect(ctl("config", "merge", "c/bunkerconfig").code).toBe(0);
  const cfg = loadClientConfig(home);
  expect(Object.keys(cfg.contexts)).toEqual(["demo", "demo-1", "lab"]);
  expect(cfg.contexts.demo!.crt).toBe(loadClientConfig(join(dir, "a/bunkerconfig")).contexts.demo!.crt);
  expect(cfg.contexts["demo-1"]!.endpoints).toEqual(["10.6.0.2"]);

  expect(ctl("config", "contexts").out).toBe(
    "CURRENT   NAME     ENDPOINTS   NODES\n" +
    "          demo     10.5.0.2    10.5.0.2\n" +
    "          demo-1   10.6.0.2    10.6.0.2\n" +
    "*         lab      192.0.2.1   192.0.2.1\n");
  expect(ctl("config", "context", "demo")).toMatchObject({ code: 0, out: "current context: demo\n" });
  expect(ctl("config", "context", "nope")).toMatchObject({ code: 1, err: 'error: no context "nope"; known: demo, demo-1, lab\n' });
  expect(ctl("config", "endpoint", "10.5.0.2", "10.5.0.3,10.5.0.4").out).toBe('context "demo": endpoints 10.5.0.2, 10.5.0.3, 10.5.0.4\n');
  expect(ctl("config", "node", "10.5.0.7").code).toBe(0);
  expect(ctl("config", "node").code).toBe(2);

  const info = JSON.parse(ctl("config", "info", "-o", "json").out);
  expect(info).toMatchObject({ context: "demo", endpoints: ["10.5.0.2", "10.5.0.3", "10.5.0.4"], nodes: ["10.5.0.7"] });
  expect(info.certificate).toMatchObject({ subject: "O=os:admin, CN=admin", roles: ["os:admin"], issuer: "O=bunker, CN=bunker", expired: false });
  expect(new Date(info.certificate.notAfter).getTime() - Date.now()).toBeGreaterThan(360 * 24 * 3600_000);
  expect(ctl("config", "info").out).toContain("  roles:          os:admin\n");
  expect(JSON.parse(ctl("config", "contexts", "-o", "json").out).filter((r: { current: boolean }) => r.current).map((r: { name: string }) => r.name)).toEqual(["demo"]);
  // --bunkerconfig wins over the environment
  expect(ctl("config", "contexts", "--bunkerconfig", "a/bunkerconfig").out).toContain("*         demo ");
}, 60_000); // about 25 runs of the binary, each a process start

test("clear failures: missing file, broken file, no contexts", () => {
  expect(ctl("config", "info", "--bunkerconfig", "none")).toMatchObject({ code: 1, err: "error: cannot read client config none: ENOENT\n" });
  writeFileSync(join(dir, "broken"), "contexts:\n  x:\n    endpoints: 5\n");
  expect(ctl("config", "contexts", "--bunkerconfig", "broken")).toMatchObject({ code: 1, err: expect.stringContaining("contexts.x.endpoints (line 3:16): expected a list of strings") });
  writeFileSync(join(dir, "empty"), "");
  expect(ctl("config", "endpoint", "1.2.3.4", "--bunkerconfig", "empty")).toMatchObject({ code: 1, err: expect.stringContaining("has no contexts") });
  expect(readFileSync(join(dir, "empty"), "utf8")).toBe("");
  expect(ctl("config", "info", "-o", "xml")).toMatchObject({ code: 2 });
});
