import { MachineService as M, ResourceService as R } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import type { Api, Destination } from "../client/api.ts";
import { describe, machineStatus, waitForNewBoot } from "../client/machinestatus.ts";
import { parseDuration } from "../client/output.ts";
import { closedNote, powerCall } from "../client/power.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl upgrade --image URL [--stage] [--force] [--wait] [--wait-timeout DURATION]
                        [connection flags]

Upgrades each node booted from an installed disk (os:admin): the node fetches the image at URL
(http:// or https://: the folder of a built image, with manifest.json, manifest.sig, vmlinuz
and initramfs.zst), checks it against its signed manifest with the key of the image it runs,
writes it into its inactive boot slot, and reboots into it once. When the new system is healthy
it becomes the slot; if it does not come up, the next boot is the old slot again by itself.
A refused image (unreachable, bad signature, wrong size or digest, or a security version below
the node's floor) changes nothing and stops nothing. Progress is printed as the node reports it.

Options:
  --image URL                  where the image is (required)
  --stage                      write the slot and arm it, but do not reboot now
  --force                      install an image whose security version is below the node's
                               floor (a deliberate downgrade; the node records it as an event)
  --wait                       wait until each node has booted again (running or maintenance),
                               and say which slot and image it runs
  --wait-timeout DURATION      with --wait: how long (default 15m); exit code 6 when it passes
  --timeout DURATION           limit of the upgrade call itself (default 10m: it includes the download)

${CONNECT_HELP.split("\n").filter((l) => !l.includes("--timeout")).join("\n")}

Example:
  bunkerctl upgrade --image https://images.example.com/bunker/1.2.0/ --wait -n 10.5.0.3`;

const BOOT_STATUS = { namespace: "runtime", type: "BootStatuses.runtime.bunker.dev", id: "boot" };

/** "slot B, image 1.2.0" from the node's BootStatus resource. */
export async function bootLine(api: Api, d: Destination): Promise<string> {
  const res = await api.unary(R.Get, BOOT_STATUS, d);
  const s = JSON.parse(res.resource?.specJson ?? "{}") as { slot?: string; image?: string; confirmation?: string };
  return `slot ${s.slot || "?"}, image ${s.image || "?"}${s.confirmation ? ` (${s.confirmation})` : ""}`;
}

/** Prints the node's events of `source` from now on until `signal` aborts; returns when the stream ends. */
export async function followProgress(api: Api, d: Destination, source: string, signal: AbortSignal): Promise<void> {
  try {
    let last = "";
    for await (const e of api.stream(M.Events, { tailEvents: 1, follow: false }, d, { timeoutMs: api.timeoutMs })) last = e.id ?? "";
    for await (const e of api.stream(M.Events, { sinceId: last, follow: true }, d, { signal })) {
      if (e.source === source) console.log(`${d.label}: ${e.message ?? ""}`);
    }
  } catch {
    // Progress is a courtesy: the call's own answer says whether it worked.
  }
}

export function run(argv: string[]): Promise<number> {
  const options = { image: { type: "string" }, stage: { type: "boolean" }, force: { type: "boolean" }, wait: { type: "boolean" }, "wait-timeout": { type: "string" } } as const;
  const timed = argv.some((x) => x === "--timeout" || x.startsWith("--timeout="));
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const image = a.values.image;
    if (!image) return usageError(HELP, "--image URL is required");
    if (!/^https?:\/\//.test(image)) return usageError(HELP, `--image ${image}: expected an http:// or https:// URL`);
    const waitMs = parseDuration(a.values["wait-timeout"] ?? "15m");
    if (waitMs === undefined || waitMs <= 0) return usageError(HELP, `--wait-timeout ${a.values["wait-timeout"]}: expected a duration`);
    const wait = a.values.wait === true && a.values.stage !== true;
    const { exit } = await r.each(async (d) => {
      const before = wait ? (await machineStatus(r.api, d, r.api.timeoutMs)).created : 0;
      const stop = new AbortController();
      const progress = followProgress(r.api, d, "upgrade", stop.signal);
      let answer;
      try {
        answer = await powerCall(() => r.api.unary(M.Upgrade, { image, stage: a.values.stage === true, force: a.values.force === true }, d, timed ? {} : { timeoutMs: 600_000 }));
      } finally {
        // Let the last progress lines arrive before the stream is cut.
        await Bun.sleep(200);
        stop.abort();
        await progress;
      }
      console.log(`${d.label}: ${answer === "closed" ? "upgrading" : answer.message}${closedNote(answer)}`);
      if (!wait) return;
      const s = await waitForNewBoot(r.api, d, before, waitMs, "booted");
      console.log(`${d.label}: back: ${describe(s)}; ${await bootLine(r.api, d)}`);
    });
    return exit;
  });
}
