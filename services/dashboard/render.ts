/**
 * The dashboard's screen as a pure function: a snapshot of one node and a screen size in, lines
 * of styled spans out. The node personality (tty1) and `bunkerctl dashboard` (a workstation's
 * terminal) draw the same lines, so what an operator learns on one reads the same on the other.
 * Styles are names, not escape codes: `paint` turns them into ANSI, or drops them when the
 * terminal has no colour, and the text is the same either way (tests compare it exactly).
 */
import { formatBytes } from "../../core/format/bytes.ts";

export interface ServiceRow {
  id: string;
  state: string;
  /** "OK", "FAIL", or "?" when no check ran (or the service has none). */
  health: string;
  restarts: number;
}

export interface Snapshot {
  /** Every node the dashboard can show, by label; `node` is the index of the one shown. */
  nodes: string[];
  node: number;
  hostname: string;
  version: string;
  stage: string;
  ready: boolean;
  unmet: { name: string; reason: string }[];
  addresses: { link: string; address: string }[];
  routes: { dst: string; gateway?: string; link?: string }[];
  cpus: number;
  /** Share of all CPUs busy since the previous snapshot, 0..100; undefined for the first one. */
  cpuPercent?: number;
  load: [number, number, number];
  memory: { total: number; available: number };
  services: ServiceRow[];
  /** What the log pane shows ("kernel" or a service id) and its last lines, oldest first. */
  logSource: string;
  log: string[];
  /** When the data was read (ms since epoch), shown in the status line. */
  at: number;
  /** The node's own screen, where `q` does not quit: the key is not offered. */
  noQuit?: boolean;
  /** Why the last refresh failed, if it did: the screen keeps the last data and says so. */
  error?: string;
}

export type Style = "bar" | "head" | "good" | "bad" | "warn" | "dim";
export interface Span { text: string; style?: Style }
export type Line = Span[];

/** One line per screen row: `height` lines, none wider than `width` characters. */
export function render(s: Snapshot, width: number, height: number): Line[] {
  const W = Math.max(20, width);
  const H = Math.max(10, height);
  const lines: Line[] = [];
  const add = (...spans: Span[]) => lines.push(clip(spans, W));

  const keys = `${s.nodes.length > 1 ? "[ ] node  " : ""}l log${s.noQuit ? "" : "  q quit"}`;
  const title = ` ${s.nodes[s.node] ?? ""}${s.nodes.length > 1 ? ` (${s.node + 1}/${s.nodes.length})` : ""}`;
  add({ text: padBetween(title, `${keys} `, W), style: "bar" });

  add({ text: "host " }, { text: s.hostname || "?", style: "head" }, { text: `  version ${s.version || "?"}  stage ` },
    { text: s.stage, style: s.stage === "running" ? "good" : "warn" }, { text: "  " },
    s.ready ? { text: "ready", style: "good" } : { text: "not ready", style: "bad" });
  add(s.unmet.length === 0
    ? { text: "conditions: all met", style: "dim" }
    : { text: `waiting for: ${s.unmet.map((u) => (u.reason ? `${u.name} (${u.reason})` : u.name)).join(", ")}`, style: "bad" });

  const used = Math.max(0, s.memory.total - s.memory.available);
  const pct = s.memory.total > 0 ? Math.round((used / s.memory.total) * 100) : 0;
  const cpu = s.cpuPercent === undefined ? "" : ` ${Math.round(s.cpuPercent)}%`;
  add({ text: `cpu ${s.cpus}x${cpu}  load ${s.load.map((l) => l.toFixed(2)).join(" ")}  mem ${formatBytes(used)} / ${formatBytes(s.memory.total)} (${pct}%)` });
  add({ text: `addresses: ${s.addresses.length > 0 ? s.addresses.map((a) => `${a.link} ${a.address}`).join(", ") : "none"}` });
  add({ text: `routes: ${s.routes.length > 0 ? s.routes.map(route).join(", ") : "none"}` });

  // Services in two columns: a node runs a handful, and rows are what an 80x25 screen lacks.
  add({ text: rule(" services ", W), style: "dim" });
  const col = Math.floor(W / 2);
  const cell = (r: ServiceRow | undefined): Span[] => {
    if (!r) return [];
    const health = r.health === "?" ? "" : ` ${r.health}`;
    const restarts = r.restarts > 0 ? ` r${r.restarts}` : "";
    const bad = r.state === "Failed" || r.health === "FAIL";
    const good = r.state === "Running" || r.state === "Finished" || r.state === "Skipped";
    return [{ text: `${r.id.padEnd(11)} ` }, { text: `${r.state}${health}${restarts}`, style: bad ? "bad" : good ? "good" : "warn" }];
  };
  // The log pane keeps at least a third of the screen; services beyond that are counted.
  const fixed = lines.length + 2; // + the log rule + the status line
  const maxRows = Math.max(1, H - fixed - Math.max(3, Math.floor(H / 3)));
  const rows = Math.ceil(s.services.length / 2);
  const shown = Math.min(rows, maxRows);
  for (let i = 0; i < shown; i++) {
    const left = cell(s.services[i * 2]);
    const right = cell(s.services[i * 2 + 1]);
    if (i === shown - 1 && rows > shown) {
      add(...left, { text: " ".repeat(Math.max(1, col - width0(left))) }, { text: `+${s.services.length - (shown * 2 - 1)} more`, style: "dim" });
    } else {
      add(...left, ...(right.length > 0 ? [{ text: " ".repeat(Math.max(1, col - width0(left))) }, ...right] : []));
    }
  }
  if (s.services.length === 0) add({ text: "no services", style: "dim" });

  add({ text: rule(` log: ${s.logSource} `, W), style: "dim" });
  const room = H - lines.length - 1;
  const tail = s.log.slice(-room);
  for (const l of tail) add({ text: l });
  while (lines.length < H - 1) add({ text: "" });

  const time = new Date(s.at).toISOString().slice(11, 19);
  add(s.error ? { text: `${time} UTC  error: ${s.error}`, style: "bad" } : { text: `${time} UTC  updated`, style: "dim" });
  return lines.slice(0, H);
}

function route(r: { dst: string; gateway?: string; link?: string }): string {
  const dst = r.dst === "0.0.0.0/0" || r.dst === "::/0" || r.dst === "" ? "default" : r.dst;
  return `${dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.link ? ` ${r.link}` : ""}`;
}

function width0(spans: Span[]): number {
  return spans.reduce((n, s) => n + s.text.length, 0);
}

function padBetween(left: string, right: string, w: number): string {
  const gap = w - left.length - right.length;
  return gap >= 1 ? left + " ".repeat(gap) + right : left.padEnd(w);
}

function rule(label: string, w: number): string {
  return `--${label}`.padEnd(w, "-");
}

/** Cuts a line to `w` characters, control characters shown as `?` (a log line must not move the cursor). */
function clip(spans: Span[], w: number): Line {
  const out: Line = [];
  let left = w;
  for (const s of spans) {
    if (left <= 0) break;
    // eslint-disable-next-line no-control-regex
    const text = s.text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?").slice(0, left);
    left -= text.length;
    if (text.length > 0) out.push(s.style ? { text, style: s.style } : { text });
  }
  return out;
}

/** The text of a line, without styles. */
export function plain(line: Line): string {
  return line.map((s) => s.text).join("");
}

const SGR: Record<Style, string> = { bar: "7", head: "1", good: "32", bad: "31", warn: "33", dim: "2" };

/** A line as the terminal gets it: with SGR colours, or the plain text when `color` is false. */
export function paint(line: Line, color: boolean): string {
  if (!color) return plain(line);
  return line.map((s) => (s.style ? `\x1b[${SGR[s.style]}m${s.text}\x1b[0m` : s.text)).join("");
}

/**
 * Whether to colour: not with NO_COLOR set, not on a dumb or unknown terminal. The Linux VGA
 * console (TERM=linux) has the eight colours the styles use.
 */
export function wantColor(env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const term = env.TERM ?? "";
  return term !== "" && term !== "dumb" && term !== "unknown";
}
