import { expect, test } from "bun:test";
import { parseSpec } from "./main.ts";

test("the spec is checked before anything is applied, naming what is wrong", () => {
  expect(() => parseSpec(undefined)).toThrow("BUNKER_EXEC_SPEC is not set");
  expect(() => parseSpec(JSON.stringify({ argv: [], env: {} }))).toThrow("argv must be a non-empty list of strings");
  expect(() => parseSpec(JSON.stringify({ argv: ["x"], env: {}, capabilities: ["CAP_FLY"] }))).toThrow("unknown capability CAP_FLY");
  expect(() => parseSpec(JSON.stringify({ argv: ["x"], env: {}, rlimits: { WINGS: [1, 1] } }))).toThrow("unknown rlimit WINGS");
  expect(parseSpec(JSON.stringify({ argv: ["/bin/true"], env: {}, capabilities: ["CAP_NET_ADMIN"] })).capabilities).toEqual(["CAP_NET_ADMIN"]);
});
