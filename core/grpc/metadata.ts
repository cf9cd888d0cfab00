/**
 * Call metadata: custom HTTP/2 headers and trailers. Keys are lower case; keys ending in "-bin"
 * carry bytes, sent base64-encoded. Also the grpc-timeout header's format.
 */

/** Metadata of a call; a "-bin" key holds bytes, every other key text. */
export type Metadata = Record<string, string | Uint8Array>;

/** Headers that belong to HTTP/2 or gRPC itself and never appear as metadata. */
const RESERVED = new Set([
  "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-status",
  "grpc-message", "grpc-status-details-bin", "content-length", "user-agent", "host", "connection",
  "accept-encoding", "transfer-encoding", "upgrade", "keep-alive", "proxy-connection", "date",
]);

const KEY = /^[0-9a-z_.-]+$/;

/** Metadata as HTTP/2 header fields; throws on keys HTTP/2 or gRPC would reject. */
export function metadataToHeaders(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(md)) {
    const key = rawKey.toLowerCase();
    if (!KEY.test(key) || RESERVED.has(key) || key.startsWith("grpc-")) {
      throw new Error(`metadata key ${JSON.stringify(rawKey)} is not allowed (reserved or not [0-9a-z_.-])`);
    }
    if (key.endsWith("-bin")) {
      const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
      out[key] = bytes.toString("base64").replace(/=+$/, "");
    } else {
      const text = typeof value === "string" ? value : Buffer.from(value).toString("utf8");
      if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`metadata ${key}: value must be printable ASCII (use a -bin key for bytes)`);
      out[key] = text;
    }
  }
  return out;
}

/** The metadata in received HTTP/2 headers (pseudo-headers and reserved ones left out). */
export function headersToMetadata(headers: Record<string, string | string[] | undefined>): Metadata {
  const md: Metadata = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || key.startsWith(":") || RESERVED.has(key) || key.startsWith("grpc-")) continue;
    const joined = Array.isArray(value) ? value.join(",") : value;
    if (key.endsWith("-bin")) {
      // Several values arrive comma-joined; each is base64 with or without padding.
      md[key] = Buffer.concat(joined.split(",").map((v) => Buffer.from(v.trim(), "base64")));
    } else {
      md[key] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return md;
}

const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout ("100m", "5S", ...) in milliseconds; undefined when absent or malformed. */
export function parseTimeout(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Milliseconds as a grpc-timeout value (at most 8 digits, rounded up so it never shortens). */
export function formatTimeout(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 99_999) return `${Math.ceil(t * 1000)}u`;
  if (t < 99_999_999) return `${Math.ceil(t)}m`;
  if (t < 99_999_999_000) return `${Math.ceil(t / 1000)}S`;
  return `${Math.min(99_999_999, Math.ceil(t / 3_600_000))}H`;
}
