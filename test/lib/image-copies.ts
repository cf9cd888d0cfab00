/**
 * Image folders for install and upgrade tests: a copy of a built image changed and signed again
 * (a valid image the manifest check accepts, or one signed by another key), and a server on
 * 127.0.0.1 that hands out such folders as a node fetches them (the guest reaches it as 10.0.2.2).
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFile, signManifest } from "../../core/image/manifest.ts";
import { testKey } from "../image/fixture.ts";

export interface CopyOptions {
  /** The version the new manifest names (default: the folder's name). */
  version?: string;
  /** PEM of the signing key (default: the test key, which the nodes under test trust). */
  key?: string;
  change?: (dir: string) => void;
  /** The security version the new manifest carries (default: the copied manifest's). */
  securityVersion?: number;
  /** false: keep the copied manifest and signature as they are (a tampered image). */
  resign?: boolean;
}

/** Copies the image folder `src` to `dir`, applies `change`, signs its manifest again; returns `dir`. */
export function imageCopy(src: string, dir: string, o: CopyOptions = {}): string {
  cpSync(src, dir, { recursive: true });
  o.change?.(dir);
  if (o.resign === false) return dir;
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { name: string }[]; securityVersion?: number };
  const version = o.version ?? dir.split("/").pop()!;
  const securityVersion = o.securityVersion ?? m.securityVersion ?? 0;
  const { json, sig } = signManifest("image", { version }, m.artifacts.map((a) => describeFile(a.name, join(dir, a.name))), o.key ?? testKey(), { securityVersion });
  writeFileSync(join(dir, "manifest.json"), json);
  writeFileSync(join(dir, "manifest.sig"), sig);
  return dir;
}

/** An HTTP server on 127.0.0.1 serving the files under `root`: ROOT/NAME/FILE at /NAME/FILE. */
export function serveFolder(root: string): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: async (req) => {
      const f = Bun.file(join(root, new URL(req.url).pathname));
      return (await f.exists()) ? new Response(f) : new Response("not found", { status: 404 });
    },
  });
}
