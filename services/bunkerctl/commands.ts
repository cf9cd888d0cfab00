import type { Command } from "./command.ts";

/** Every bunkerctl subcommand, one line each; each loads its module only when chosen. */
export const commands: Command[] = [
  { path: ["validate"], summary: "check a machine config, listing every problem with its line:column", run: async (a) => (await import("./cmd/validate.ts")).run(a) },
  { path: ["gen", "schema"], summary: "write the JSON Schema of the machine config (for editors)", run: async (a) => (await import("./cmd/gen-schema.ts")).run(a) },
  { path: ["gen", "secrets"], summary: "generate a secrets bundle (CAs, token, cluster secrets)", run: async (a) => (await import("./cmd/gen-secrets.ts")).run(a) },
  { path: ["gen", "config"], summary: "generate control-plane, worker and client configs for a cluster", run: async (a) => (await import("./cmd/gen-config.ts")).run(a) },
  { path: ["gen", "key"], summary: "generate a private key (Ed25519 or ECDSA P-256)", run: async (a) => (await import("./cmd/gen-key.ts")).run(a) },
  { path: ["gen", "ca"], summary: "generate a self-signed CA", run: async (a) => (await import("./cmd/gen-ca.ts")).run(a) },
  { path: ["gen", "csr"], summary: "generate a certificate request from a key", run: async (a) => (await import("./cmd/gen-csr.ts")).run(a) },
  { path: ["gen", "crt"], summary: "sign a certificate request with a CA, granting roles", run: async (a) => (await import("./cmd/gen-crt.ts")).run(a) },
  { path: ["config", "contexts"], summary: "list the contexts of the client config", run: async (a) => (await import("./cmd/config-contexts.ts")).run(a) },
  { path: ["config", "context"], summary: "choose the current context", run: async (a) => (await import("./cmd/config-context.ts")).run(a) },
  { path: ["config", "endpoint"], summary: "set the endpoints of the current context", run: async (a) => (await import("./cmd/config-endpoint.ts")).run(a) },
  { path: ["config", "node"], summary: "set the default nodes of the current context", run: async (a) => (await import("./cmd/config-node.ts")).run(a) },
  { path: ["config", "merge"], summary: "merge a client config file into yours", run: async (a) => (await import("./cmd/config-merge.ts")).run(a) },
  { path: ["config", "info"], summary: "show the current context and its certificate", run: async (a) => (await import("./cmd/config-info.ts")).run(a) },
];
