import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { decodeGrubenv, encodeGrubenv, grubConfig, INSTALLED_CMDLINE } from "./grub.ts";

test("the installed command line keeps the image's consoles", () => {
  expect(INSTALLED_CMDLINE.startsWith(KERNEL_CMDLINE + " ")).toBe(true);
});

test("grubenv: GRUB's own grub-editenv reads what we write, and we read what it writes", () => {
  const d = mkdtempSync(join(tmpdir(), "grubenv-"));
  try {
    const f = join(d, "grubenv");
    writeFileSync(f, encodeGrubenv({ slot: "B", try_slot: "" }));
    const list = Bun.spawnSync(["grub-editenv", f, "list"]).stdout.toString();
    expect(list).toBe("slot=B\ntry_slot=\n");
    expect(Bun.spawnSync(["grub-editenv", f, "set", "try_slot=A"]).exitCode).toBe(0);
    expect(decodeGrubenv(readFileSync(f))).toEqual({ slot: "B", try_slot: "A" });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("grubenv refuses what GRUB could not read back", () => {
  expect(() => encodeGrubenv({ "bad name": "x" })).toThrow(/bad variable name/);
  expect(() => encodeGrubenv({ a: "x\ny" })).toThrow(/newline/);
  expect(() => encodeGrubenv({ a: "x".repeat(1100) })).toThrow(/do not fit/);
  expect(() => decodeGrubenv(new Uint8Array(1024))).toThrow(/header/);
});

test("grub.cfg: one-shot trial cleared before it boots, fallback entry to the other slot", () => {
  const cfg = grubConfig();
  const clear = cfg.indexOf("save_env try_slot");
  expect(clear).toBeGreaterThan(cfg.indexOf('set boot_slot="$try_slot"'));
  expect(clear).toBeLessThan(cfg.indexOf("menuentry"));
  expect(cfg).toContain("set fallback=1");
  expect(cfg).toContain(`linux /vmlinuz ${INSTALLED_CMDLINE} bunker.slot=$boot_slot bunker.trial=$trial`);
  expect(cfg).toContain(`bunker.slot=$other_slot bunker.trial=0`);
});
