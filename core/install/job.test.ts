import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { JobError, parseJob } from "./job.ts";
import { loadSigningKey } from "../image/manifest.ts";
import { testKey } from "../../test/image/fixture.ts";

test("a good job of each kind parses", () => {
  expect(parseJob(JSON.stringify({ kind: "install", disk: "/dev/vda", wipe: false, image: "/w/image", key: "K", scratch: "/w" })))
    .toEqual({ kind: "install", disk: "/dev/vda", wipe: false, image: "/w/image", key: "K", scratch: "/w", config: undefined, grub: undefined });
  expect(parseJob(JSON.stringify({ kind: "upgrade", disk: "/d", booted: "B", image: "/i", key: "K", work: "/w" })).kind).toBe("upgrade");
  expect(parseJob(JSON.stringify({ kind: "reset", disk: "/d", volumes: ["STATE"], mounted: { STATE: "/s" }, work: "/w" })).kind).toBe("reset");
});

test("bad jobs are refused naming the field and what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["{", /disk job: not JSON/],
    ["[]", /expected a JSON object/],
    [JSON.stringify({ kind: "format" }), /"kind" must be install, upgrade or reset, got "format"/],
    [JSON.stringify({ kind: "install", disk: "/d", image: "/i", key: "K", scratch: "/w" }), /"wipe" must be true or false/],
    [JSON.stringify({ kind: "install", disk: "", wipe: true, image: "/i", key: "K", scratch: "/w" }), /"disk" must be a non-empty string, got ""/],
    [JSON.stringify({ kind: "upgrade", disk: "/d", booted: "C", image: "/i", key: "K", work: "/w" }), /"booted" must be A or B, got "C"/],
    [JSON.stringify({ kind: "reset", disk: "/d", volumes: ["BOOT-A"], work: "/w" }), /"volumes" must be a list of STATE, EPHEMERAL/],
    [JSON.stringify({ kind: "reset", disk: "/d", volumes: ["STATE"], mounted: { META: "/m" }, work: "/w" }), /"mounted" must map STATE, EPHEMERAL to a folder/],
  ];
  for (const [text, says] of bad) {
    let err: unknown;
    try { parseJob(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(JobError);
    expect({ text, msg: (err as Error).message }).toEqual({ text, msg: expect.stringMatching(says) });
  }
});

const bin = resolve(import.meta.dir, "../../out/bunker");
test.skipIf(!existsSync(bin))("bunker partition job answers a bad job with one JSON error line and exit 1", () => {
  const r = Bun.spawnSync([bin, "partition", "job"], { stdin: Buffer.from(JSON.stringify({ kind: "upgrade", disk: "/nonexistent", booted: "A", image: "/nonexistent/image", key: loadSigningKey(testKey()).publicKey.export({ type: "spki", format: "pem" }).toString(), work: "/tmp" })) });
  expect(r.exitCode).toBe(1);
  const lines = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
  expect(lines).toEqual([{ error: expect.stringContaining("image /nonexistent/image: no manifest.json") }]);
});
