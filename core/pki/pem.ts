/** PEM armour (RFC 7468): base64 of DER between BEGIN/END lines with a label. */

export class PemError extends Error {
  constructor(message: string) {
    super(`PEM: ${message}`);
    this.name = "PemError";
  }
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Every PEM block in the text, in order (a bundle may hold several certificates). */
export function pemBlocks(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  for (let m: RegExpExecArray | null; (m = re.exec(text)); ) {
    if (m[1] !== m[3]) throw new PemError(`BEGIN ${m[1]} closed by END ${m[3]}`);
    const body = m[2]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new PemError(`the ${m[1]} block holds characters that are not base64`);
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  return out;
}

/** The DER of the first block with the label; throws naming what was found instead. */
export function fromPem(text: string, label: string): Uint8Array {
  const blocks = pemBlocks(text);
  const hit = blocks.find((b) => b.label === label);
  if (!hit) {
    const found = blocks.length ? blocks.map((b) => b.label).join(", ") : "no PEM block at all";
    throw new PemError(`expected a ${label} block, found ${found}`);
  }
  return hit.der;
}
