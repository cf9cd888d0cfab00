import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { securityVersion, SECURITY_VERSION_FILE } from "./main.ts";

test("the security version: the repository's file by default, the flag when given, integers only", () => {
  expect(securityVersion()).toBe(Number(readFileSync(SECURITY_VERSION_FILE, "utf8").trim()));
  expect(securityVersion()).toBeGreaterThanOrEqual(1);
  expect(securityVersion("7")).toBe(7);
  expect(securityVersion("0")).toBe(0);
  for (const bad of ["", "x", "-1", "1.5", "2147483648", " 3"]) {
    expect(() => securityVersion(bad)).toThrow(`image: --security-version: security version ${JSON.stringify(bad)} is not an integer from 0 to 2147483647`);
  }
});
