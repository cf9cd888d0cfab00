/**
 * A listen address as the servers take it on their command lines (apid --listen, trustd
 * --listen): HOST:PORT, an IPv6 host in brackets, an empty host meaning every IPv4 address.
 */

/** HOST:PORT as host and port; throws, naming the flag's value, when it is not one. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  const port = Number(m?.[2]);
  if (!m || !(port > 0 && port < 65536)) throw new Error(`--listen ${JSON.stringify(s)}: expected HOST:PORT`);
  return { host: m[1] || "0.0.0.0", port };
}
