/** `bunker partition install | boot-status | upgrade | rollback | reset` on an image file, through main(). */
import { afterAll, beforeAll, expect, spyOn, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installFixture, type InstallFixture } from "../../test/lib/install-fixture.ts";
import { main } from "./main.ts";

let fx: InstallFixture | undefined;
let work = "", image = "", disk = "";
beforeAll(async () => {
  fx = await installFixture("partition-slots-");
  ({ work, image } = fx);
  disk = fx.blankDisk("disk.img");
}, 600_000);
afterAll(() => fx?.cleanup());

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const o = spyOn(console, "log").mockImplementation((...a: unknown[]) => { out.push(a.join(" ")); });
  const e = spyOn(console, "error").mockImplementation((...a: unknown[]) => { err.push(a.join(" ")); });
  try {
    return { code: await main(argv), out: out.join("\n"), err: err.join("\n") };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

test("install, boot-status, upgrade, rollback, reset", async () => {
  const cfg = join(work, "config.yaml");
  writeFileSync(cfg, "version: v1alpha1\n");
  const inst = await run("install", "--disk", disk, "--image", image, "--config", cfg);
  expect(inst.err).toBe("");
  expect(inst.out).toContain("verified");
  expect(inst.out).toContain("installed to slot A");
  expect(inst.code).toBe(0);
  // Installing again over it needs --wipe.
  const again = await run("install", "--disk", disk, "--image", image);
  expect(again.code).toBe(1);
  expect(again.err).toMatch(/not blank .* without wipe/);

  expect(JSON.parse((await run("boot-status", "--disk", disk, "-o", "json")).out)).toMatchObject({ slot: "A", trySlot: null, fallback: null });
  const rb = await run("rollback", "--disk", disk);
  expect(rb.code).toBe(1);
  expect(rb.err).toContain("slot B holds no Bunker system");

  // A tampered image is refused, and nothing changes.
  const bad = join(work, "bad");
  cpSync(image, bad, { recursive: true });
  writeFileSync(join(bad, "initramfs.zst"), Buffer.concat([readFileSync(join(bad, "initramfs.zst")), Buffer.from("x")]));
  const up1 = await run("upgrade", "--disk", disk, "--image", bad);
  expect(up1.code).toBe(1);
  expect(up1.err).toMatch(/initramfs.zst: size \d+, manifest says \d+/);
  expect(JSON.parse((await run("boot-status", "--disk", disk, "-o", "json")).out)).toMatchObject({ slot: "A", trySlot: null });

  const up = await run("upgrade", "--disk", disk, "--image", image);
  expect(up.code).toBe(0);
  expect(up.out).toContain("slot B written");
  expect((await run("boot-status", "--disk", disk)).out).toContain("next boot tries slot B once, upgrade unconfirmed (falls back to A)");
  expect((await run("rollback", "--disk", disk, "-o", "json")).out).toContain('"slot": "B"');

  const rs = await run("reset", "--disk", disk, "--volume", "STATE");
  expect(rs.code).toBe(0);
  expect(rs.out).toContain("STATE wiped");
  expect((await run("reset", "--disk", disk, "--volume", "BOOT-A")).code).toBe(2);
}, 120_000);

test("--pubkey: an image signed by another key is refused; its own key (base64 or file) is accepted", async () => {
  const d = fx!.blankDisk("key.img");
  const other = Buffer.alloc(32, 7).toString("base64");
  const r = await run("install", "--disk", d, "--image", image, "--pubkey", other);
  expect(r.code).toBe(1);
  expect(r.err).toContain("signature does not match the trusted public key");
  expect((await run("install", "--disk", d, "--image", image, "--pubkey", join(image, "image.pub"))).code).toBe(0);
}, 60_000);
