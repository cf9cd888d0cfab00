/**
 * The dashboard's loop, shared by the node personality and `bunkerctl dashboard`: refresh the
 * shown node every interval (or at once after a key), render, and write only the rows that
 * changed (a serial console at 115200 baud redraws 80x25 in about 0.2 s; an idle node changes a
 * few rows). Keys: `[` `]` or 1..9 switch node, `l`/Tab and `L` switch the log pane's source
 * (kernel, then each service), Ctrl-L redraws, `q` or Ctrl-C quits.
 */
import { paint, plain, render, type Snapshot } from "./render.ts";
import { fetchView, type Caller, type CpuSample, type NodeView } from "./source.ts";

export interface Screen {
  write(text: string): void;
  size(): { cols: number; rows: number };
}

export interface DashboardOptions {
  nodes: string[];
  caller(index: number): Caller;
  screen: Screen;
  color: boolean;
  intervalMs: number;
  /** Each call's limit; a node that does not answer in time shows its last data and the error. */
  timeoutMs: number;
  /** The log pane's first source: "kernel" (default) or a service id. */
  log?: string;
  /**
   * False on the node's own screen: init would only start it again, and a service that ends
   * makes the node not ready for that moment.
   */
  canQuit?: boolean;
  /** Redraw every row every this many refreshes, not only the changed ones: kernel messages printed on the same console scribble over it. */
  fullRedrawEvery?: number;
}

interface NodeState { view?: NodeView; cpu?: CpuSample; services: string[]; log: string; viewLog?: string }

export class Dashboard {
  private node = 0;
  private readonly states: NodeState[];
  private painted: string[] = [];
  private wake: (() => void) | undefined;
  private quit = false;
  private refreshes = 0;
  private ended!: () => void;
  /** Resolves as soon as `q` is pressed, without waiting for a refresh in flight. */
  readonly quitted = new Promise<void>((resolve) => { this.ended = resolve; });

  constructor(private readonly o: DashboardOptions) {
    this.states = o.nodes.map(() => ({ services: [], log: o.log ?? "kernel" }));
  }

  /** Bytes typed at the terminal. Returns true once the dashboard should end. */
  key(data: string): boolean {
    // An escape sequence (arrow keys, function keys) holds `[`: it is not a node switch.
    if (data.startsWith("\x1b")) return this.quit;
    for (const ch of data) {
      const st = this.states[this.node]!;
      const sources = ["kernel", ...st.services];
      const at = Math.max(0, sources.indexOf(st.log));
      if ((ch === "q" || ch === "\x03") && this.o.canQuit !== false) {
        this.quit = true;
        this.ended();
        break;
      }
      if (ch === "]") this.node = (this.node + 1) % this.o.nodes.length;
      else if (ch === "[") this.node = (this.node + this.o.nodes.length - 1) % this.o.nodes.length;
      else if (ch >= "1" && ch <= "9" && Number(ch) <= this.o.nodes.length) this.node = Number(ch) - 1;
      else if (ch === "l" || ch === "\t") st.log = sources[(at + 1) % sources.length]!;
      else if (ch === "L") st.log = sources[(at + sources.length - 1) % sources.length]!;
      else if (ch === "\x0c") this.painted = [];
      else continue;
      this.draw();
    }
    this.wake?.();
    return this.quit;
  }

  /** Full redraw on the next draw (after a resize). */
  invalidate(): void {
    this.painted = [];
    this.draw();
  }

  /** Runs until `q`; resolves then. */
  async run(): Promise<void> {
    this.draw();
    while (!this.quit) {
      const node = this.node;
      const st = this.states[node]!;
      const log = st.log;
      const rows = this.o.screen.size().rows;
      const got = await fetchView(this.o.caller(node), log, Math.max(1, rows), st.cpu, this.o.timeoutMs);
      // Keep what answered: a refresh that failed entirely keeps the last data, with the error.
      st.view = got.view.hostname === "" && st.view && got.view.error ? { ...st.view, error: got.view.error, at: got.view.at } : got.view;
      st.viewLog = log;
      if (got.cpu) st.cpu = got.cpu;
      if (got.services.length > 0) st.services = got.services;
      if (this.quit) break;
      // A key switched node or log source while this refresh ran: draw and ask again now.
      if (node !== this.node || log !== this.states[this.node]!.log) continue;
      this.refreshes++;
      const every = this.o.fullRedrawEvery ?? 0;
      if (every > 0 && this.refreshes % every === 0) this.painted = [];
      this.draw();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.intervalMs);
        this.wake = () => { clearTimeout(t); this.wake = undefined; resolve(); };
      });
    }
  }

  /** The snapshot of the node shown now (data not yet read shows as such). */
  snapshot(): Snapshot {
    const st = this.states[this.node]!;
    const v: NodeView = st.view ?? {
      hostname: "", version: "", stage: "connecting", ready: false, unmet: [], addresses: [], routes: [], cpus: 0,
      load: [0, 0, 0], memory: { total: 0, available: 0 }, services: [], log: [], at: Date.now(),
    };
    return {
      ...v, nodes: this.o.nodes, node: this.node, logSource: st.log, log: st.viewLog === st.log ? v.log : [],
      ...(this.o.canQuit === false ? { noQuit: true } : {}),
    };
  }

  private draw(): void {
    const { cols, rows } = this.o.screen.size();
    const rendered = render(this.snapshot(), cols, rows);
    const lines = rendered.map((l) => paint(l, this.o.color));
    let out = this.painted.length === 0 ? "\x1b[2J" : "";
    lines.forEach((l, i) => {
      // After the last column the cursor still stands on it (the wrap is pending): erasing to the
      // end of the line there would erase that column on a Linux console.
      const full = plain(rendered[i]!).length >= cols;
      if (this.painted[i] !== l) out += `\x1b[${i + 1};1H${l}${full ? "" : "\x1b[K"}`;
    });
    this.painted = lines;
    if (out !== "") this.o.screen.write(out);
  }
}

/** Escape sequences around the dashboard: the alternate screen (where there is one) and no cursor. */
export const ENTER = "\x1b[?1049h\x1b[?25l\x1b[2J";
export const LEAVE = "\x1b[?25h\x1b[?1049l";
