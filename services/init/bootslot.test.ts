/** init's boot confirmation on an installed image file (the disk is given; discovery is core/disks'). */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { openDisk } from "../../core/gpt/device.ts";
import { verifyImage } from "../../core/install/image.ts";
import { bootState, upgrade } from "../../core/install/slots.ts";
import { installFixture, type InstallFixture } from "../../test/lib/install-fixture.ts";
import { bootedSlot, confirmBoot } from "./bootslot.ts";

let fx: InstallFixture | undefined;
let image = "", disk = "";
beforeAll(async () => {
  fx = await installFixture("bootslot-");
  image = fx.image;
  disk = fx.installedDisk("disk.img");
}, 600_000);
afterAll(() => fx?.cleanup());

const state = () => { const d = openDisk(disk); try { return bootState(d); } finally { d.close(); } };

test("bunker.slot from the command line", () => {
  expect(bootedSlot("console=ttyS0 panic=10 bunker.slot=B bunker.trial=1")).toBe("B");
  expect(bootedSlot("bunker.slot=C")).toBeNull();
  expect(bootedSlot("console=ttyS0")).toBeNull();
});

test("no slot on the command line: nothing is touched", () => {
  expect(confirmBoot("console=ttyS0", disk)).toEqual({ outcome: null, message: expect.stringContaining("not booted from an installed disk") });
});

test("a trial boot is confirmed; a boot back on the fallback reports the failed upgrade", () => {
  const dev = openDisk(disk, { write: true });
  upgrade(dev, verifyImage(image));
  dev.close();
  expect(confirmBoot("bunker.slot=B bunker.trial=1", disk).message).toContain("upgrade confirmed, slot B boots from now on");
  expect(state()).toMatchObject({ slot: "B", trySlot: null, fallback: null });
  const dev2 = openDisk(disk, { write: true });
  upgrade(dev2, verifyImage(image));
  dev2.close();
  expect(confirmBoot("bunker.slot=B bunker.trial=0", disk).message).toContain("the upgrade to slot A did not boot; running on slot B again");
  expect(state()).toMatchObject({ slot: "B", fallback: null });
}, 60_000);
