/**
 * The system clock: read and adjust it through adjtimex(2) and clock_settime(2). Adjusting needs
 * CAP_SYS_TIME. struct timex is laid out for LP64 (x86_64, arm64).
 */
import { FFIType } from "bun:ffi";
import { bufPtr, check, lazyLibc } from "./libc.ts";

const { i32, ptr } = FFIType;
const symbols = {
  adjtimex: { args: [ptr], returns: i32 },
  clock_settime: { args: [i32, ptr], returns: i32 },
  clock_gettime: { args: [i32, ptr], returns: i32 },
} as const;
const clk = lazyLibc(symbols);

const CLOCK_REALTIME = 0;
const TIMEX_SIZE = 208;
const ADJ_OFFSET_SINGLESHOT = 0x8001;
/** ADJ_OFFSET_SINGLESHOT | ADJ_OFFSET_READONLY: read what is left of a slew, change nothing. */
const ADJ_OFFSET_SS_READ = 0xa001;
const ADJ_MAXERROR = 0x0004;
const ADJ_ESTERROR = 0x0008;
const ADJ_STATUS = 0x0010;
const STA_UNSYNC = 0x0040;
/** adjtimex's return value when the kernel considers its clock unsynchronised. */
export const TIME_ERROR = 5;

export interface KernelClock {
  /** The return value: TIME_OK (0) .. TIME_ERROR (5). */
  state: number;
  status: number;
  /** Microseconds of the adjustment still being slewed. */
  offsetUs: number;
  maxErrorUs: number;
  synced: boolean;
}

function timex(modes: number): Buffer {
  const b = Buffer.alloc(TIMEX_SIZE);
  b.writeUInt32LE(modes, 0);
  return b;
}

function readTimex(b: Buffer, state: number): KernelClock {
  const status = b.readInt32LE(40);
  return { state, status, offsetUs: Number(b.readBigInt64LE(8)), maxErrorUs: Number(b.readBigInt64LE(24)), synced: state !== TIME_ERROR && (status & STA_UNSYNC) === 0 };
}

/** Reads the kernel's clock discipline state (no privilege needed). */
export function readKernelClock(): KernelClock {
  const b = timex(0);
  return readTimex(b, check("adjtimex", clk().adjtimex(bufPtr(b)), "read"));
}

/** Slews the clock by offsetMs (gradually, like adjtime(3)); the kernel moves 0.5 ms per second. */
export function slewClock(offsetMs: number): void {
  const b = timex(ADJ_OFFSET_SINGLESHOT);
  b.writeBigInt64LE(BigInt(Math.round(offsetMs * 1000)), 8);
  check("adjtimex", clk().adjtimex(bufPtr(b)), `slew by ${offsetMs} ms`);
}

/** Microseconds of a slew (slewClock) the kernel has not applied yet; no privilege needed. */
export function pendingSlewUs(): number {
  const b = timex(ADJ_OFFSET_SS_READ);
  check("adjtimex", clk().adjtimex(bufPtr(b)), "read the pending slew");
  return Number(b.readBigInt64LE(8));
}

/**
 * The realtime clock in milliseconds, with the nanoseconds the kernel gives. Unlike
 * performance.timeOrigin + performance.now() (which runs on the monotonic clock from a start
 * point), this follows a step of the clock at once.
 */
export function realtimeMs(): number {
  const ts = Buffer.alloc(16);
  check("clock_gettime", clk().clock_gettime(CLOCK_REALTIME, bufPtr(ts)), "CLOCK_REALTIME");
  return Number(ts.readBigInt64LE(0)) * 1000 + Number(ts.readBigInt64LE(8)) / 1e6;
}

/** Steps the realtime clock by offsetMs at once. */
export function stepClock(offsetMs: number): void {
  const ts = Buffer.alloc(16);
  check("clock_gettime", clk().clock_gettime(CLOCK_REALTIME, bufPtr(ts)), "CLOCK_REALTIME");
  const ns = ts.readBigInt64LE(0) * 1_000_000_000n + ts.readBigInt64LE(8) + BigInt(Math.round(offsetMs * 1e6));
  ts.writeBigInt64LE(ns / 1_000_000_000n, 0);
  ts.writeBigInt64LE(ns % 1_000_000_000n, 8);
  check("clock_settime", clk().clock_settime(CLOCK_REALTIME, bufPtr(ts)), `step by ${offsetMs} ms`);
}

/** Tells the kernel its clock is synchronised (clears STA_UNSYNC), with an error estimate. */
export function markSynced(maxErrorUs: number): void {
  const b = timex(ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR);
  b.writeBigInt64LE(BigInt(Math.round(maxErrorUs)), 24);
  b.writeBigInt64LE(BigInt(Math.round(maxErrorUs)), 32);
  b.writeInt32LE(0, 40);
  check("adjtimex", clk().adjtimex(bufPtr(b)), "mark synchronised");
}
