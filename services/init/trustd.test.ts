import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TRUSTD_NODES } from "../../core/api/trustdstatus.ts";
import { toPemPair, newClusterCA } from "../../core/pki/issue.ts";
import { Store } from "../../core/resources/index.ts";
import { straceSkipReason, syncCalls } from "../../test/lib/durable.ts";
import { joinedNodes, trustdSecrets, writeTrustdSecrets } from "./trustd.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-trustd-init-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pair = toPemPair(newClusterCA());
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("trustd runs on control planes only, and never grants the control plane's own names", () => {
  expect(trustdSecrets(undefined, "h")).toBe("no machine config yet");
  expect(trustdSecrets({ machine: { ca: { crt: b64(pair.crt) }, token: "t" } }, "h")).toMatch(/worker.*control planes only/);
  expect(trustdSecrets({ machine: { ca: { crt: b64(pair.crt), key: b64(pair.key) } } }, "h")).toMatch(/machine.token is unset/);
  const s = trustdSecrets({
    machine: { ca: { crt: b64(pair.crt), key: b64(pair.key) }, token: "abcdef.0123456789abcdef", certSANs: ["api.example.com"] },
    cluster: { controlPlane: { endpoint: "https://cp.example.com:6443" } },
  }, "cp1", ["10.5.0.2"]);
  if (typeof s === "string") throw new Error(s);
  expect(s.reserved).toEqual(["cp1", "api.example.com", "cp.example.com", "10.5.0.2", "localhost"]);
  expect(s.ca).toEqual(pair);
});

test("the secrets file is 0400 in a 0700 folder, replaced whole", () => {
  const path = join(dir, "trustd", "secrets.json");
  const s = { ca: pair, token: "abcdef.0123456789abcdef", reserved: [], hostname: "cp", sans: [] };
  writeTrustdSecrets(path, s);
  writeTrustdSecrets(path, { ...s, token: "abcdef.fedcba9876543210" });
  expect(statSync(path).mode & 0o777).toBe(0o400);
  expect(statSync(join(dir, "trustd")).mode & 0o777).toBe(0o700);
  expect(JSON.parse(readFileSync(path, "utf8")).token).toBe("abcdef.fedcba9876543210");
});

test("the nodes trustd signed for, while their certificates are valid, are the members it learned of", () => {
  const store = new Store();
  const node = (address: string, notAfter: string) => store.create({ ...TRUSTD_NODES, id: address }, { address, hostname: "w", sans: [], signedAt: "", notAfter }, { owner: "trustd" });
  node("10.5.0.7:50000", "2999-01-01T00:00:00Z");
  node("10.5.0.8:50000", "2000-01-01T00:00:00Z");
  expect(joinedNodes(store)).toEqual(["10.5.0.7:50000"]);
});

test.skipIf(straceSkipReason !== null)(`the secrets file survives a power cut once written: its folder is fsynced after the rename${straceSkipReason ? ` (skipped: ${straceSkipReason})` : ""}`, () => {
  const r = syncCalls(`import { writeTrustdSecrets } from ${JSON.stringify(resolve(import.meta.dir, "trustd.ts"))};`,
    `writeTrustdSecrets(dir + "/secrets.json", { ca: { crt: "", key: "" }, token: "t", reserved: [], hostname: "cp", sans: [] });`);
  expect(r.renamesDurable).toBe(true);
});
