/** Shared set-up of the install tests: a test image (iso-less) and blank or installed 2 GiB image files. */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { verifyImage } from "../../core/install/image.ts";
import { install } from "../../core/install/install.ts";
import { stageBinary, testImage } from "../image/fixture.ts";

export interface InstallFixture {
  work: string;
  image: string;
  /** A new sparse 2 GiB file in `work`. */
  blankDisk(name: string): string;
  /** A new 2 GiB file with Bunker installed from `image` (slot A). */
  installedDisk(name: string): string;
  cleanup(): void;
}

export async function installFixture(prefix: string): Promise<InstallFixture> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const image = await testImage(join(work, "image"), await stageBinary(), { iso: false });
  const blankDisk = (name: string) => {
    const p = join(work, name);
    writeFileSync(p, "");
    truncateSync(p, 2 * 2 ** 30);
    return p;
  };
  return {
    work, image, blankDisk,
    installedDisk(name) {
      const p = blankDisk(name);
      const dev = openDisk(p, { write: true });
      try { install(dev, verifyImage(image), { wipe: false }); } finally { dev.close(); }
      return p;
    },
    cleanup: () => rmSync(work, { recursive: true, force: true }),
  };
}
