/**
 * The dashboard on a node's screen: the real image booted in QEMU (BIOS, the VGA text console),
 * init starts the dashboard on tty1, and the test reads the screen out of the VGA text buffer
 * (guest memory 0xB8000, one character and one attribute byte per cell) through QMP, as a
 * person at the machine would see it: 80 columns by 25 rows.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { realBinary, testImage } from "../image/fixture.ts";
import { haveQemu, withQemu } from "./runner.ts";
import { eventually } from "../lib/eventually.ts";

const BOOT_MS = 240_000;
let work = "";
let img = "";

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "dash-qemu-"));
  img = await testImage(join(work, "image"), await realBinary(), { iso: false });
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One human monitor command over QMP; its text answer. */
async function monitor(socket: string, command: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const c = connect(socket);
    let buf = "";
    let step = 0;
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`QMP: no answer to ${command}`)); }, 20_000);
    c.on("error", (e) => { clearTimeout(timer); reject(e); });
    c.on("data", (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string } };
        buf = buf.slice(nl + 1);
        if (msg.error) { clearTimeout(timer); c.destroy(); reject(new Error(`QMP: ${msg.error.desc}`)); return; }
        if (msg.QMP !== undefined) c.write(`${JSON.stringify({ execute: "qmp_capabilities" })}\n`);
        else if (msg.return !== undefined && step++ === 0) c.write(`${JSON.stringify({ execute: "human-monitor-command", arguments: { "command-line": command } })}\n`);
        else if (msg.return !== undefined) { clearTimeout(timer); c.end(); resolve(String(msg.return)); }
      }
    });
  });
}

/**
 * The VGA text memory (32 KiB: the console pans its start through it) as rows of 80 characters.
 * `xp /16384xh` prints little-endian 16-bit cells: the low byte is the character.
 */
async function vgaRows(socket: string): Promise<string[]> {
  const out = await monitor(socket, "xp /16384xh 0xb8000");
  const cells = [...out.matchAll(/0x([0-9a-f]{4})/g)].map((m) => parseInt(m[1]!, 16) & 0xff);
  const rows: string[] = [];
  for (let i = 0; i + 80 <= cells.length; i += 80) {
    rows.push(cells.slice(i, i + 80).map((ch) => (ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : " ")).join("").trimEnd());
  }
  return rows;
}

/** The dashboard's latest 25 rows in the text memory: from a title row to its status line. */
function dashboardScreen(rows: string[]): string[] | undefined {
  let best: { rows: string[]; time: string } | undefined;
  rows.forEach((r, i) => {
    if (!r.startsWith(" this node")) return;
    const screen = rows.slice(i, i + 25);
    const time = /^(\d\d:\d\d:\d\d) UTC/.exec(screen[24] ?? "")?.[1];
    if (time && (!best || time > best.time)) best = { rows: screen, time };
  });
  return best?.rows;
}

test.skipIf(!haveQemu())("the node's screen (tty1, VGA text) shows the dashboard at 80x25", async () => {
  const qmp = join(work, "qmp.sock");
  await withQemu({
    kernel: join(img, "vmlinuz"), initrd: join(img, "initramfs.zst"), append: KERNEL_CMDLINE, memoryMiB: 1024,
    extraArgs: ["-qmp", `unix:${qmp},server=on,wait=off`],
  }, async (q) => {
    await q.waitFor("service dashboard: Running", BOOT_MS);
    // The screen holds the node's stage and its services once a refresh has come back.
    let screen: string[] | undefined;
    await eventually(async () => {
      screen = dashboardScreen(await vgaRows(qmp));
      // Settled: the DHCP address, a kernel line in the pane, and a refresh that fully answered
      // (an emulated CPU makes the first ones slow).
      const t = screen?.join("\n") ?? "";
      return /addresses: eth0 10\.0\.2\.15\/24/.test(t) && /^\[ *\d+\.\d{3}\] /m.test(t) && /UTC {2}updated$/.test(t);
    }, 180_000, 2000);
    const text = (screen ?? []).join("\n");
    console.log(`the node's screen:\n${text}`);
    expect(text).toMatch(/^host bunker(-[0-9a-f]{6})? {2}version \d+\.\d+\.\d+ {2}stage maintenance {2}not ready$/m);
    expect(text).toContain("waiting for: stage (stage is maintenance), config (no machine config");
    expect(text).toMatch(/networkd +Running/);
    expect(text).toMatch(/dashboard +Running/);
    expect(text).toMatch(/addresses: eth0 10\.0\.2\.15\/24/);
    expect(text).toContain("-- log: kernel --");
    expect(text).toMatch(/^\[ *\d+\.\d{3}\] /m);
    // Full-width rows keep their last column (no erase at the pending wrap).
    expect(screen!.find((l) => l.startsWith("-- services "))).toHaveLength(80);
    expect(screen).toHaveLength(25);
    expect(screen![0]).toMatch(/^ this node +l log$/); // q is not offered: init owns it there
    expect(Math.max(...screen!.map((l) => l.length))).toBeLessThanOrEqual(80);
    // The dashboard reads with os:reader: init's socket refused it nothing it asked.
    expect(text).not.toContain("error:");
  });
}, BOOT_MS + 400_000);
