import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cmdlineConfigURL, fetchConfig, loadBootConfig, parseMachineConfig } from "./config.ts";
import { edit, fixture } from "../../core/config/testdata/fixtures.ts";

const good = fixture("worker.yaml");

test("parseMachineConfig checks the whole config with core/config and names source, line:column and path", () => {
  expect(parseMachineConfig(good, "f.yaml").config).toMatchObject({ machine: { type: "worker" } });
  expect(() => parseMachineConfig(edit(good, "version: v1alpha1", "version: v2"), "f.yaml")).toThrow(/^machine config from f.yaml is not valid:\nf.yaml:2:10: error: version: /);
  expect(() => parseMachineConfig(edit(good, "type: worker", "type: router"), "x")).toThrow(/\nx:4:9: error: machine.type: /);
  expect(() => parseMachineConfig("a: [", "x")).toThrow(/^machine config from x is not valid:\nx:1:/);
  // Container mode warns about what the container runtime owns; the config still loads.
  expect(parseMachineConfig(good, "c.yaml", "container").warnings?.join("\n")).toContain("c.yaml:");
});

test("bunker.config= is found among other kernel arguments", () => {
  expect(cmdlineConfigURL("console=ttyS0 bunker.config=http://10.0.2.2:8080/c.yaml quiet\n")).toBe("http://10.0.2.2:8080/c.yaml");
  expect(cmdlineConfigURL("console=ttyS0")).toBeUndefined();
});

test("a config URL is fetched with retries until the server answers", async () => {
  let hits = 0;
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch() { hits++; return hits < 3 ? new Response("not yet", { status: 503 }) : new Response(good); } });
  try {
    const retries: string[] = [];
    const text = await fetchConfig(`http://127.0.0.1:${server.port}/c.yaml`, { firstDelayMs: 5, onRetry: (_i, e) => retries.push(e) });
    expect(text).toBe(good);
    expect(retries).toEqual(["HTTP 503", "HTTP 503"]);
    await expect(fetchConfig(`http://127.0.0.1:${server.port}/c.yaml`.replace("http", "ftp"))).rejects.toThrow("only http:// and https://");
  } finally {
    server.stop(true);
  }
});

test("boot config sources: file first, then the cmdline URL, then the saved copy, else maintenance", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-cfg-"));
  try {
    const saved = join(dir, "saved.yaml");
    expect(await loadBootConfig({ savedPath: saved })).toBeUndefined();
    writeFileSync(saved, good);
    expect((await loadBootConfig({ savedPath: saved }))!.source).toBe("state");
    const file = join(dir, "f.yaml");
    writeFileSync(file, fixture("controlplane.yaml"));
    expect((await loadBootConfig({ file, savedPath: saved }))!.config).toMatchObject({ machine: { type: "controlplane" } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
