/**
 * Services declared in a file (YAML or JSON list), for container mode: tests and development
 * run real processes under the real supervisor this way. Refused on a node.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import type { Store } from "../../core/resources/index.ts";
import { fileExists, resourcePresent } from "./conditions.ts";
import { spawnTracked } from "./children.ts";
import type { Condition, HealthCheck, ServiceSpec } from "./service.ts";

interface FileService {
  id: string;
  description?: string;
  argv: string[];
  argv0?: string;
  dependsOn?: string[];
  conditions?: ({ file: string } | { resource: { namespace: string; type: string; id: string } })[];
  restart?: { policy?: "always" | "on-failure" | "never"; baseDelayMs?: number; maxDelayMs?: number; resetAfterMs?: number };
  stopGraceMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  noNewPrivs?: boolean;
  capabilities?: string[];
  oomScoreAdj?: number;
  health?: { exec?: string[]; file?: string; initialDelayMs?: number; intervalMs?: number; timeoutMs?: number };
}

function fail(path: string, where: string, what: string): never {
  throw new Error(`${path}: ${where}: ${what}`);
}

function health(h: NonNullable<FileService["health"]>, path: string, where: string): HealthCheck {
  const timing = { initialDelayMs: h.initialDelayMs, intervalMs: h.intervalMs, timeoutMs: h.timeoutMs };
  if (h.exec) {
    const argv = h.exec;
    return { ...timing, async check(signal) {
      const p = spawnTracked(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      const onAbort = () => p.kill(9);
      signal.addEventListener("abort", onAbort, { once: true });
      const code = await p.exited;
      signal.removeEventListener("abort", onAbort);
      if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}`);
    } };
  }
  if (h.file) {
    const f = h.file;
    return { ...timing, async check() { if (!existsSync(f)) throw new Error(`${f} does not exist`); } };
  }
  fail(path, where, "health needs exec or file");
}

export function loadInjectedServices(path: string, store: Store): ServiceSpec[] {
  const doc = parse(readFileSync(path, "utf8")) as unknown;
  const list = (doc && typeof doc === "object" && !Array.isArray(doc) ? (doc as { services?: unknown }).services : doc) as unknown;
  if (!Array.isArray(list)) fail(path, "services", "expected a list of services");
  return list.map((raw, i) => {
    const s = raw as FileService;
    const where = `services[${i}]`;
    if (!s || typeof s !== "object") fail(path, where, "expected a mapping");
    if (typeof s.id !== "string") fail(path, `${where}.id`, "required string");
    if (!Array.isArray(s.argv) || s.argv.length === 0 || !s.argv.every((a) => typeof a === "string")) fail(path, `${where}.argv`, "expected a non-empty list of strings");
    const conditions: Condition[] = (s.conditions ?? []).map((c, j) => {
      if ("file" in c) return fileExists(c.file);
      if ("resource" in c) return resourcePresent(store, c.resource);
      fail(path, `${where}.conditions[${j}]`, "expected file or resource");
    });
    return {
      id: s.id, description: s.description, dependsOn: s.dependsOn, conditions, restart: s.restart, stopGraceMs: s.stopGraceMs,
      health: s.health ? health(s.health, path, `${where}.health`) : undefined,
      runner: { argv: s.argv, argv0: s.argv0, env: s.env, cwd: s.cwd, uid: s.uid, gid: s.gid, noNewPrivs: s.noNewPrivs, capabilities: s.capabilities, oomScoreAdj: s.oomScoreAdj },
    };
  });
}
