/** The GPT library: read, check, write, repair and edit GUID partition tables in pure TypeScript. */
export * from "./table.ts";
export * from "./disk.ts";
export * from "./edit.ts";
export * from "./device.ts";
export * from "./guid.ts";
export * from "./types.ts";
export { crc32 } from "./crc32.ts";
