/**
 * A failed service's last words: the tail of what its run wrote, bounded and made safe for the
 * console, kept with its exit (Service resource) and shown by init when it fails.
 */
import type { RingBuffer } from "./ringbuffer.ts";

/** At most this many of the last lines a failed run wrote are kept with its exit. */
export const EXIT_OUTPUT_LINES = 10;
/** ... and at most this many bytes of them. */
export const EXIT_OUTPUT_BYTES = 2048;

/**
 * The last lines (stdout and stderr as they interleaved) written from position `from` on, bounded
 * by EXIT_OUTPUT_LINES and EXIT_OUTPUT_BYTES: what an operator needs to see why a service failed,
 * small enough for the console and the Service resource. Control characters become "?" so a
 * service's output cannot drive the console (escape sequences).
 */
export function exitOutput(logs: RingBuffer, from: number, maxLines = EXIT_OUTPUT_LINES, maxBytes = EXIT_OUTPUT_BYTES): string[] {
  const start = Math.max(from, logs.end - maxBytes);
  let text = new TextDecoder().decode(logs.read(start).data);
  // Cut inside a line: drop its head, unless it is the only line (then it is shown cut, marked).
  if (Math.max(start, logs.start) > from) {
    const nl = text.indexOf("\n");
    text = nl >= 0 && nl < text.length - 1 ? text.slice(nl + 1) : `…${text}`;
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-maxLines).map((l) => l.replace(/\r$/, "").replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, "?"));
}
