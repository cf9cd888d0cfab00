import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ETCD_EXTENSION } from "../../../core/image/layout.ts";
import { extensionDir, mountExtension, releaseExtension } from "./extensions.ts";

const dir = mkdtempSync(join(tmpdir(), "extensions-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("an extension the bootloader did not load is absent, with where it should have come from; nothing to release", () => {
  const r = mountExtension(ETCD_EXTENSION, { root: dir, sysBlock: join(dir, "no-sys") });
  expect(r.state).toBe("absent");
  expect(r.message).toContain("did not load etcd.ext before initramfs.zst");
  expect(releaseExtension(ETCD_EXTENSION, { root: dir, sysBlock: join(dir, "no-sys") }).state).toBe("absent");
  expect(extensionDir(ETCD_EXTENSION, "/")).toBe("/ext/etcd");
});
