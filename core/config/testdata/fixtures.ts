/** Helpers for the config tests: the sample configs, text edits, and where a needle sits. */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function fixture(name: string): string {
  return readFileSync(join(import.meta.dir, name), "utf8");
}

/** Replaces the one occurrence of `from`; a test editing text that is not there must fail loudly. */
export function edit(text: string, from: string, to: string): string {
  const i = text.indexOf(from);
  if (i < 0 || text.indexOf(from, i + 1) >= 0) throw new Error(`edit: "${from}" occurs ${i < 0 ? "nowhere" : "more than once"}`);
  return text.slice(0, i) + to + text.slice(i + from.length);
}

/** 1-based line and column of the unique `needle` in `text`, plus `skip` characters into it. */
export function posOf(text: string, needle: string, skip = 0): { line: number; column: number } {
  const i = text.indexOf(needle);
  if (i < 0 || text.indexOf(needle, i + 1) >= 0) throw new Error(`posOf: "${needle}" occurs ${i < 0 ? "nowhere" : "more than once"}`);
  const before = text.slice(0, i + skip);
  const line = before.split("\n").length;
  return { line, column: i + skip - before.lastIndexOf("\n") };
}

/** base64 of the PEM of a fresh Ed25519 private key: a key that belongs to no fixture certificate. */
export function strayKeyB64(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  return Buffer.from(privateKey.export({ type: "pkcs8", format: "pem" }) as string).toString("base64");
}

/** The value of a `key: value` line in the fixture (the base64 PEMs). */
export function valueOf(text: string, key: string): string {
  const m = new RegExp(`^\\s*${key}: (\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`valueOf: no "${key}:" line`);
  return m[1]!;
}

/**
 * A self-signed Ed25519 certificate and its key made by openssl (`openssl ca -selfsign`, which
 * accepts explicit validity dates), as base64 PEM. For certificates the samples do not cover.
 */
export function opensslCert(opts: { ca: boolean; start: string; end: string }): { crt: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "bunker-openssl-"));
  try {
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "01\n");
    writeFileSync(join(dir, "cnf"), [
      "[ca]", "default_ca = d", "[d]", "database = index.txt", "new_certs_dir = .", "serial = serial",
      "default_md = default", "policy = p", "unique_subject = no", "[p]", "commonName = supplied",
      "[ext]", `basicConstraints = critical,CA:${opts.ca ? "TRUE" : "FALSE"}`, "",
    ].join("\n"));
    const run = (...args: string[]) => {
      const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
    };
    run("genpkey", "-algorithm", "ed25519", "-out", "k");
    run("req", "-new", "-key", "k", "-subj", "/CN=test-ca", "-out", "csr");
    run("ca", "-batch", "-config", "cnf", "-selfsign", "-keyfile", "k", "-in", "csr", "-startdate", opts.start, "-enddate", opts.end, "-extensions", "ext", "-notext", "-out", "crt");
    const b64 = (f: string) => readFileSync(join(dir, f)).toString("base64");
    return { crt: b64("crt"), key: b64("k") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
