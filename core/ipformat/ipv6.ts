/**
 * RFC 5952 text of an IPv6 address: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups (the first, on a tie) written as "::". Shared by the config library and the
 * netlink codecs so both print addresses the same way.
 */
export function formatIPv6(bytes: Uint8Array): string {
  const w = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
