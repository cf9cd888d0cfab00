import { expect, test } from "bun:test";
import { DEFAULT_ROOT_COMPRESSION, parseRootCompression } from "./rootfs.ts";

test("root compression: algorithm, zstd level and block size; the default when parts are left out", () => {
  expect(parseRootCompression("xz,1M")).toEqual({ algo: "xz", level: DEFAULT_ROOT_COMPRESSION.level, blockSize: 1 << 20 });
  expect(parseRootCompression("zstd:9,128K")).toEqual({ algo: "zstd", level: 9, blockSize: 128 * 1024 });
  expect(parseRootCompression("none,4K")).toEqual({ algo: "none", level: DEFAULT_ROOT_COMPRESSION.level, blockSize: 4096 });
  expect(parseRootCompression("zstd")).toEqual(DEFAULT_ROOT_COMPRESSION);
  for (const bad of ["gzip", "xz:9", "none:1", "zstd:23", "zstd:0", "zstd,3K", "zstd,2M", "zstd,96K", "zstd, 1M"]) {
    expect(() => parseRootCompression(bad)).toThrow(`image: --root-compression ${JSON.stringify(bad)}: want zstd[:LEVEL 1..22], xz or none`);
  }
});
