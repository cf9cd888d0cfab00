import type { DiagCommand } from "./command.ts";

/** Every diag subcommand, one line each; each loads its module only when chosen. */
export const commands: DiagCommand[] = [
  { name: "links", summary: "network links: state, carrier, MTU, MAC, kind", run: async (a) => (await import("./cmd/links.ts")).run(a) },
  { name: "addrs", summary: "IPv4 and IPv6 addresses of every link", run: async (a) => (await import("./cmd/addrs.ts")).run(a) },
  { name: "routes", summary: "routes of every table except local", run: async (a) => (await import("./cmd/routes.ts")).run(a) },
  { name: "ps", summary: "processes: pid, parent, state, CPU time, memory, command line", run: async (a) => (await import("./cmd/ps.ts")).run(a) },
  { name: "mounts", summary: "mounted filesystems with size and free space", run: async (a) => (await import("./cmd/mounts.ts")).run(a) },
  { name: "netstat", summary: "TCP, UDP and raw sockets with their owning process", run: async (a) => (await import("./cmd/netstat.ts")).run(a) },
  { name: "disks", summary: "block devices: size, transport, model, serial", run: async (a) => (await import("./cmd/disks.ts")).run(a) },
  { name: "memory", summary: "memory and swap from /proc/meminfo", run: async (a) => (await import("./cmd/memory.ts")).run(a) },
  { name: "dmesg", summary: "the kernel log", run: async (a) => (await import("./cmd/dmesg.ts")).run(a) },
];
