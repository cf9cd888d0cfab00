/**
 * Debian's python3-grpcio as an independent gRPC peer: Python stubs generated from our .proto
 * files with grpc_tools.protoc into a temporary directory, and the interop scripts beside this
 * folder run with it on PYTHONPATH.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const PYTHON = "/usr/bin/python3"; // Debian's, which has grpcio (a pyenv python may not)
const root = resolve(import.meta.dir, "../..");
export const interopDir = join(root, "test/interop");

/** True when python3-grpcio and python3-grpc-tools are installed. */
export function havePythonGrpc(): boolean {
  const p = Bun.spawnSync([PYTHON, "-c", "import grpc, grpc_tools.protoc"], { stdout: "ignore", stderr: "ignore" });
  return p.exitCode === 0;
}

/** Generates the Python stubs; returns the directory (remove it with rmSync when done). */
export function generateStubs(): string {
  const dir = mkdtempSync(join(tmpdir(), "bunker-pystubs-"));
  const protoDir = join(root, "core/api/proto");
  const p = Bun.spawnSync([PYTHON, "-m", "grpc_tools.protoc", `-I${protoDir}`, `--python_out=${dir}`,
    `--grpc_python_out=${dir}`, "bunker/machine/v1/machine.proto", "bunker/resource/v1/resource.proto"],
  { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`grpc_tools.protoc failed: ${p.stderr.toString()}`);
  }
  return dir;
}

/** Runs a Python script from test/interop with the stubs; resolves to {exitCode, stdout, stderr}. */
export async function runPython(stubs: string, script: string, args: string[], timeoutMs = 60_000) {
  const proc = Bun.spawn([PYTHON, join(interopDir, script), ...args], {
    env: { ...process.env, PYTHONPATH: stubs, GRPC_VERBOSITY: "NONE" },
    stdout: "pipe", stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill(), timeoutMs);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}
