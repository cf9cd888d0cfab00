import { expect, test } from "bun:test";
import { parseSpec } from "./main.ts";

test("the spec is checked before anything is applied, naming what is wrong", () => {
  expect(() => parseSpec(undefined)).toThrow("BUNKER_EXEC_SPEC is not set");
  expect(() => parseSpec(JSON.stringify({ argv: [], env: {} }))).toThrow("argv must be a non-empty list of strings");
  expect(() => parseSpec(JSON.stringify({ argv: ["x"], env: {}, capabilities: ["CAP_FLY"] }))).toThrow("unknown capability CAP_FLY");
  expect(() => parseSpec(JSON.stringify({ argv: ["x"], env: {}, rlimits: { WINGS: [1, 1] } }))).toThrow("unknown rlimit WINGS");
  expect(parseSpec(JSON.stringify({ argv: ["/bin/true"], env: {}, capabilities: ["CAP_NET_ADMIN"] })).capabilities).toEqual(["CAP_NET_ADMIN"]);
});

const bin = `${import.meta.dir}/../../out/bunker`;
const asRoot = process.getuid?.() === 0;
test.skipIf(!asRoot || !(await Bun.file(bin).exists()))(
  `a service started as a non-root uid keeps exactly its listed capabilities across exec${asRoot ? "" : " (skipped: needs root to change uid; CI runs as root)"}`,
  () => {
    const spec = {
      argv: ["/bin/sh", "-c", "grep -E '^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status"], env: { PATH: "/usr/bin:/bin" },
      uid: 65534, gid: 65534, noNewPrivs: true, capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW"],
    };
    const p = Bun.spawnSync([bin, "exec-helper"], { env: { BUNKER_EXEC_SPEC: JSON.stringify(spec) }, stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    const status = Object.fromEntries(p.stdout.toString().trim().split("\n").map((l) => l.split(/:\s+/) as [string, string]));
    const want = ((1n << 12n) | (1n << 13n)).toString(16).padStart(16, "0");
    expect(status).toEqual({ Uid: "65534\t65534\t65534\t65534", CapPrm: want, CapEff: want, CapBnd: want, NoNewPrivs: "1" });
  },
);
