/**
 * Runs QEMU for boot tests: TCG with `-cpu max` (KVM does not run guests on these machines, and
 * Bun needs AVX2), serial console on stdout, `-no-reboot` so a guest reboot ends the process.
 * Records every console line with its time since spawn, waits for markers with a deadline, and
 * always kills QEMU (on timeout, on test failure, at exit).
 */
import { existsSync } from "node:fs";
import { createServer } from "node:net";

export interface QemuOptions {
  /** Direct kernel boot. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Boot this ISO from the CD-ROM. */
  cdrom?: string;
  /** UEFI firmware (OVMF) instead of SeaBIOS. */
  uefi?: boolean;
  /** Network boot from QEMU's built-in TFTP server: the folder and the file iPXE loads first. */
  tftp?: { dir: string; bootfile: string };
  memoryMiB?: number;
  /** Host port on 127.0.0.1 -> guest port, through user networking. */
  hostfwd?: { host: number; guest: number }[];
  extraArgs?: string[];
  /** Let a guest reboot restart the VM (default: -no-reboot, a guest reboot ends QEMU). */
  allowReboot?: boolean;
}

export interface ConsoleLine {
  /** Milliseconds since QEMU was spawned. */
  at: number;
  text: string;
}

export const OVMF = "/usr/share/ovmf/OVMF.fd";

export function qemuArgs(o: QemuOptions): string[] {
  const a = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", String(o.memoryMiB ?? 512), "-smp", "1"];
  a.push("-display", "none", "-serial", "stdio", "-monitor", "none");
  if (!o.allowReboot) a.push("-no-reboot");
  if (o.uefi) a.push("-bios", OVMF);
  if (o.kernel) a.push("-kernel", o.kernel);
  if (o.initrd) a.push("-initrd", o.initrd);
  if (o.append !== undefined) a.push("-append", o.append);
  if (o.cdrom) a.push("-cdrom", o.cdrom, "-boot", "d");
  const fwd = (o.hostfwd ?? []).map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join("");
  const tftp = o.tftp ? `,tftp=${o.tftp.dir},bootfile=${o.tftp.bootfile}` : "";
  a.push("-netdev", `user,id=n0${tftp}${fwd}`, "-device", "virtio-net-pci,netdev=n0");
  if (o.tftp) a.push("-boot", "n");
  a.push(...(o.extraArgs ?? []));
  return a;
}

export class Qemu {
  readonly lines: ConsoleLine[] = [];
  readonly exited: Promise<number>;
  private readonly proc: ReturnType<typeof Bun.spawn>;
  private readonly start = performance.now();
  private partial = "";
  private waiters: (() => void)[] = [];
  exitCode: number | null = null;

  constructor(readonly options: QemuOptions) {
    if (options.uefi && !existsSync(OVMF)) throw new Error(`qemu: UEFI firmware ${OVMF} missing (apt-get install ovmf)`);
    this.proc = Bun.spawn(qemuArgs(options), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    live.add(this);
    this.exited = this.proc.exited.then((c) => {
      this.exitCode = c;
      live.delete(this);
      this.wake();
      return c;
    });
    void this.pump(this.proc.stdout as ReadableStream<Uint8Array>);
    void this.pump(this.proc.stderr as ReadableStream<Uint8Array>);
  }

  /** QEMU's process id on the host: what the guest costs the host is this process's CPU time. */
  get pid(): number {
    return this.proc.pid;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const text = this.partial + dec.decode(chunk, { stream: true }).replace(/\r/g, "");
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      const at = performance.now() - this.start;
      for (const p of parts) this.lines.push({ at, text: p });
      this.wake();
    }
  }

  /** Everything the console printed so far. */
  output(): string {
    return this.lines.map((l) => l.text).join("\n") + (this.partial ? `\n${this.partial}` : "");
  }

  /** The first console line matching `marker`, or undefined. */
  find(marker: string | RegExp): ConsoleLine | undefined {
    return this.lines.find((l) => (typeof marker === "string" ? l.text.includes(marker) : marker.test(l.text)));
  }

  /**
   * Waits until a console line matches `marker`; throws with the console's tail when the deadline
   * passes or QEMU exits first.
   */
  async waitFor(marker: string | RegExp, timeoutMs: number): Promise<ConsoleLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.find(marker);
      if (hit) return hit;
      if (this.exitCode !== null) throw new Error(`qemu exited (${this.exitCode}) before '${marker}'; console:\n${this.tail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no '${marker}' on the console within ${timeoutMs} ms; console:\n${this.tail()}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Waits for QEMU to exit by itself (e.g. the guest powered off); kills it at the deadline. */
  async waitExit(timeoutMs: number): Promise<number> {
    const t = setTimeout(() => this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }

  tail(n = 40): string {
    return this.output().split("\n").slice(-n).join("\n");
  }

  kill(): void {
    if (this.exitCode === null) this.proc.kill("SIGKILL");
  }
}

const live = new Set<Qemu>();
process.on("exit", () => {
  for (const q of live) q.kill();
});

/**
 * Runs `fn` with a started QEMU and kills it afterwards, whatever happens. A failure inside `fn`
 * (a missed marker, an assertion on the console) carries the console's tail, so a boot that went
 * wrong on a CI machine says how.
 */
export async function withQemu<T>(o: QemuOptions, fn: (q: Qemu) => Promise<T>): Promise<T> {
  const q = new Qemu(o);
  try {
    return await fn(q);
  } catch (err) {
    if (err instanceof Error && !err.message.includes("console:\n")) err.message += `\nconsole:\n${q.tail(60)}`;
    throw err;
  } finally {
    q.kill();
    await q.exited;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for hostfwd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export function haveQemu(): boolean {
  return Bun.which("qemu-system-x86_64") !== null;
}
