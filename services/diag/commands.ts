import type { DiagCommand } from "./command.ts";

/** Every diag subcommand, one line each; each loads its module only when chosen. */
export const commands: DiagCommand[] = [
  { name: "links", summary: "network links: state, carrier, MTU, MAC, kind", run: async (a) => (await import("./cmd/links.ts")).run(a) },
  { name: "addrs", summary: "IPv4 and IPv6 addresses of every link", run: async (a) => (await import("./cmd/addrs.ts")).run(a) },
  { name: "routes", summary: "routes of every table except local", run: async (a) => (await import("./cmd/routes.ts")).run(a) },
];
