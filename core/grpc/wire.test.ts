import { expect, test } from "bun:test";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { formatTimeout, headersToMetadata, metadataToHeaders, parseTimeout } from "./metadata.ts";
import { decodeGrpcMessage, encodeGrpcMessage, GrpcError, Status, statusName } from "./status.ts";

test("grpc-message percent-encoding: printable ASCII kept, '%' and UTF-8 bytes escaped", () => {
  expect(encodeGrpcMessage("plain text")).toBe("plain text");
  expect(encodeGrpcMessage("100% «ok»\n")).toBe("100%25 %C2%ABok%C2%BB%0A");
  expect(decodeGrpcMessage("100%25 %C2%ABok%C2%BB%0A")).toBe("100% «ok»\n");
  // The spec: a malformed escape is passed through as it came.
  expect(decodeGrpcMessage("bad %zz end %4")).toBe("bad %zz end %4");
});

test("status names", () => {
  expect(statusName(Status.RESOURCE_EXHAUSTED)).toBe("RESOURCE_EXHAUSTED");
  expect(statusName(99)).toBe("STATUS_99");
  expect(new GrpcError(Status.NOT_FOUND, "no such service").message).toBe("NOT_FOUND: no such service");
});

test("frames split at every byte boundary still decode to the same messages", () => {
  const msgs = [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(300, 7)];
  const wire = Buffer.concat(msgs.map(encodeFrame));
  for (const step of [1, 2, 5, 6, 13, wire.length]) {
    const d = new FrameDecoder(1024);
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i += step) out.push(...d.push(wire.subarray(i, i + step)));
    expect(out.map((b) => b.toString("hex"))).toEqual(msgs.map((b) => b.toString("hex")));
    expect(d.pending).toBe(0);
  }
});

test("the decoder refuses an oversize message from its prefix alone, and compressed or bad flags", () => {
  const head = Buffer.from([0, 0, 0x10, 0, 1]); // announces 1 MiB + 1
  expect(() => new FrameDecoder(1024 * 1024).push(head)).toThrow(/1048577 bytes is larger than the limit of 1048576/);
  let e: unknown;
  try { new FrameDecoder(10).push(Buffer.from([0, 0, 0, 0, 11])); } catch (err) { e = err; }
  expect((e as GrpcError).code).toBe(Status.RESOURCE_EXHAUSTED);
  try { new FrameDecoder(10).push(Buffer.from([1, 0, 0, 0, 1, 0])); } catch (err) { e = err; }
  expect((e as GrpcError).code).toBe(Status.UNIMPLEMENTED);
  try { new FrameDecoder(10).push(Buffer.from([7, 0, 0, 0, 1, 0])); } catch (err) { e = err; }
  expect((e as GrpcError).code).toBe(Status.INTERNAL);
});

test("metadata: -bin values travel as unpadded base64, reserved keys are refused or dropped", () => {
  const h = metadataToHeaders({ "x-a": "text", "x-b-bin": new Uint8Array([0, 1, 255]) });
  expect(h).toEqual({ "x-a": "text", "x-b-bin": "AAH/" });
  expect(() => metadataToHeaders({ "grpc-status": "0" })).toThrow(/not allowed/);
  expect(() => metadataToHeaders({ "Bad Key": "x" })).toThrow(/not allowed/);
  expect(() => metadataToHeaders({ "x-a": "line\nbreak" })).toThrow(/printable ASCII/);
  const md = headersToMetadata({ ":path": "/x", "content-type": "application/grpc", "x-a": "t", "x-b-bin": "AAH/,Ag==", "grpc-timeout": "1S" });
  expect(Object.keys(md).sort()).toEqual(["x-a", "x-b-bin"]);
  expect(Buffer.from(md["x-b-bin"] as Uint8Array).toString("hex")).toBe("0001ff02");
});

test("grpc-timeout: parse every unit, format within 8 digits and never shorter", () => {
  expect(parseTimeout("1H")).toBe(3_600_000);
  expect(parseTimeout("2M")).toBe(120_000);
  expect(parseTimeout("3S")).toBe(3000);
  expect(parseTimeout("250m")).toBe(250);
  expect(parseTimeout("1500u")).toBe(1.5);
  expect(parseTimeout("2000000n")).toBe(2);
  for (const bad of ["", "1", "S", "123456789S", "1.5S", "-1S", "1s"]) expect(parseTimeout(bad)).toBeUndefined();
  for (const ms of [0, 0.5, 300, 99_998, 100_000, 1e9, 1e12, 1e15]) {
    const f = formatTimeout(ms);
    expect(f).toMatch(/^\d{1,8}[HMSmun]$/);
    expect(parseTimeout(f)!).toBeGreaterThanOrEqual(Math.min(ms, 99_999_999 * 3_600_000));
  }
});
