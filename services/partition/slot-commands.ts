/**
 * `bunker partition install | upgrade | rollback | boot-status | reset`: core/install on the
 * console, one disk named by --disk (or --select), progress on stdout, -o json for the result.
 */
import { existsSync, readFileSync } from "node:fs";
import { parsePublicKey } from "../../core/image/manifest.ts";
import { verifyImage } from "../../core/install/image.ts";
import { install } from "../../core/install/install.ts";
import { reset, RESETTABLE, type ResettableLabel } from "../../core/install/reset.ts";
import { bootState, rollback, upgrade } from "../../core/install/slots.ts";
import { mountedFrom, targetDisk, toJson, UsageError, withDisk, type Values } from "./args.ts";

function image(values: Values) {
  if (!values.image) throw new UsageError("--image DIR is required");
  // A file when one exists by that name, else the key itself (base64 also holds '/').
  const key = values.pubkey === undefined ? undefined : parsePublicKey(existsSync(values.pubkey) ? readFileSync(values.pubkey, "utf8") : values.pubkey);
  return verifyImage(values.image, key);
}

export function slotCommand(cmd: string, values: Values, json: boolean): number {
  const { path } = targetDisk(values);
  const say = (s: string) => { if (!json) console.log(`- ${s}`); };
  const writes = cmd !== "boot-status";
  if (writes && path.startsWith("/dev/")) {
    const mounted = mountedFrom(path);
    // upgrade and rollback touch only the inactive slot, META and grubenv, none of them mounted.
    if (mounted.length > 0 && (cmd === "install" || cmd === "reset")) throw new Error(`${path} is in use (${mounted.join(", ")}); refusing to write`);
  }
  return withDisk(path, values, writes, (dev) => {
    switch (cmd) {
      case "install": {
        const img = image(values);
        say(`image ${img.dir}: signature and ${img.manifest.artifacts.length} artifact(s) verified`);
        const config = values.config === undefined ? undefined : readFileSync(values.config, "utf8");
        const r = install(dev, img, { wipe: values.wipe === true, config, progress: say });
        if (json) console.log(toJson({ disk: path, ...r, config: config !== undefined }));
        else console.log(`${path}: installed to slot A${r.wiped.length ? ` (wiped: ${r.wiped.join(", ")})` : ""}`);
        return 0;
      }
      case "upgrade": {
        const img = image(values);
        say(`image ${img.dir}: signature and ${img.manifest.artifacts.length} artifact(s) verified`);
        const slot = upgrade(dev, img, say);
        if (json) console.log(toJson({ disk: path, trySlot: slot }));
        else console.log(`${path}: slot ${slot} written; the next boot tries it once, and it stays only when the node confirms it`);
        return 0;
      }
      case "rollback": {
        const slot = rollback(dev);
        if (json) console.log(toJson({ disk: path, slot }));
        else console.log(`${path}: slot ${slot} boots from now on`);
        return 0;
      }
      case "boot-status": {
        const s = bootState(dev);
        if (json) console.log(toJson({ disk: path, ...s }));
        else {
          console.log(`${path}: slot ${s.slot}${s.trySlot ? `, next boot tries slot ${s.trySlot} once` : ""}${s.fallback ? `, upgrade unconfirmed (falls back to ${s.fallback})` : ""}`);
          for (const p of s.problems) console.log(`  problem: ${p}`);
        }
        return 0;
      }
      case "reset": {
        const vols = (values.volume ?? [...RESETTABLE]) as ResettableLabel[];
        for (const v of vols) if (!RESETTABLE.includes(v)) throw new UsageError(`--volume ${v}: expected ${RESETTABLE.join(" or ")}`);
        const done = reset(dev, vols, say);
        if (json) console.log(toJson({ disk: path, reset: done }));
        else console.log(`${path}: ${done.join(" and ")} wiped; the node boots into maintenance mode`);
        return 0;
      }
    }
    throw new UsageError(`unknown command "${cmd}"`);
  });
}
