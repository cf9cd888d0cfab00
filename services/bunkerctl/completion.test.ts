/**
 * The completion scripts, run by the shells themselves: bash sources its script and the
 * completion function offers the commands (every one in commands.ts, so a new command is expected
 * at once), group words, flags from each command's help, the first argument's choices, and skips
 * the values of flags written before the command. zsh and fish (when installed) likewise: fish
 * through `complete -C`, zsh with the completion system's output functions recording what they get.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commands } from "./commands.ts";
import { choicesFromUsage, flagsFromHelp } from "./completion.ts";
import { runCtl } from "./testing.ts";

const dir = mkdtempSync(join(tmpdir(), "bunkerctl-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const has = (shell: string) => Bun.which(shell) !== null;

function script(shell: string): string {
  const r = runCtl(dir, { HOME: dir }, "completion", shell);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  const file = join(dir, `bunkerctl.${shell}`);
  writeFileSync(file, r.out);
  return file;
}

const run = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

const TOP = [...new Set(commands.map((c) => c.path[0]!))].sort();
const GEN = commands.filter((c) => c.path[0] === "gen").map((c) => c.path[1]!).sort();

test("the help parsers: flags with their values and descriptions, a usage line's choices", () => {
  expect(flagsFromHelp("Options:\n  -f, --follow                 keep printing new lines\n  --tail N                     only the last N\n  --force\n")).toEqual([
    { long: "follow", short: "f", value: false, description: "keep printing new lines" },
    { long: "tail", value: true, description: "only the last N" },
    { long: "force", value: false, description: "" },
  ]);
  expect(choicesFromUsage("Usage: bunkerctl completion bash|zsh|fish", ["completion"])).toEqual(["bash", "zsh", "fish"]);
  expect(choicesFromUsage("Usage: bunkerctl logs ID [-f]", ["logs"])).toEqual([]);
  expect(choicesFromUsage("Usage: bunkerctl ps [--sort pid|cpu|rss]", ["ps"])).toEqual([]);
});

test("an unknown shell is a usage error naming the three", () => {
  const r = runCtl(dir, { HOME: dir }, "completion", "tcsh");
  expect(r.code).toBe(2);
  expect(r.err).toContain('unknown shell "tcsh" (bash, zsh or fish)');
});

test("bash: sourced, the function offers every command, group words, flags and choices", () => {
  const file = script("bash");
  const complete = (...words: string[]) => {
    const r = run(["bash", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _bunkerctl; printf '%s\\n' "\${COMPREPLY[@]}"`, "bash", file, "bunkerctl", ...words]);
    expect(r.err).toBe("");
    return r.out.split("\n").filter((l) => l !== "").sort();
  };
  expect(run(["bash", "-c", `source "$1"; complete -p bunkerctl`, "bash", file]).out).toBe("complete -o default -F _bunkerctl bunkerctl\n");
  expect(complete("")).toEqual([...TOP, "help"].sort());
  expect(complete("su")).toEqual(["support"]);
  expect(complete("gen", "")).toEqual(GEN);
  expect(complete("-n", "10.5.0.2", "--context", "prod", "gen", "c")).toEqual(["ca", "config", "crt", "csr"]);
  expect(complete("logs", "apid", "--t")).toEqual(["--tail", "--timeout", "--timestamps"]);
  expect(complete("support", "--")).toEqual(expect.arrayContaining(["--output-file", "--force", "--nodes", "--endpoints"]));
  expect(complete("completion", "")).toEqual(["bash", "fish", "zsh"]);
  expect(complete("completion", "bash", "")).toEqual([]); // nothing more to offer: file names (complete -o default)
  expect(complete("--")).toEqual(expect.arrayContaining(["--nodes", "--endpoints", "--context", "--output"]));
});

test.skipIf(!has("fish"))("fish: complete -C offers the commands with their summaries, flags and choices", () => {
  const file = script("fish");
  const complete = (line: string) => {
    const r = run(["fish", "-c", `source $argv[1]; complete -C $argv[2]`, file, line]);
    expect(r.err).toBe("");
    return r.out.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]!).sort();
  };
  expect(complete("bunkerctl ")).toEqual(TOP);
  expect(run(["fish", "-c", `source $argv[1]; complete -C $argv[2]`, file, "bunkerctl sup"]).out).toBe(`support\t${commands.find((c) => c.path[0] === "support")!.summary}\n`);
  expect(complete("bunkerctl -n 10.5.0.2 gen ")).toEqual(GEN);
  expect(complete("bunkerctl logs apid --t")).toEqual(["--tail", "--timeout", "--timestamps"]);
  expect(complete("bunkerctl completion ")).toEqual(["bash", "fish", "zsh"]);
});

test.skipIf(!has("zsh"))("zsh: loads under compinit, and the function hands the completion system the commands, flags and choices", () => {
  const file = script("zsh");
  expect(run(["zsh", "-f", "-c", `autoload -U compinit; compinit -u -d "$2/zcompdump"; source "$1"; print -r -- $_comps[bunkerctl]`, "zsh", file, dir]).out).toBe("_bunkerctl\n");
  // _describe and _files are the completion system's; recording what they are handed shows
  // what a user would be offered.
  const complete = (prefix: string, ...words: string[]) => {
    const r = run(["zsh", "-f", "-c", `_describe() { local n=\${@[-1]}; print -rl -- \${(P)n}; }; _files() { print -r -- FILES; }; source "$1"; PREFIX="$2"; shift 2; words=(bunkerctl "$@"); CURRENT=$#words; _bunkerctl`, "zsh", file, prefix, ...words]);
    expect(r.err).toBe("");
    return r.out.split("\n").filter((l) => l !== "").map((l) => l.replace(/(?<!\\):.*$/, "")).sort();
  };
  expect(complete("", "")).toEqual([...TOP, "help"].sort());
  expect(complete("", "-n", "10.5.0.2", "gen", "")).toEqual(GEN);
  expect(complete("--t", "logs", "apid", "--t")).toEqual(expect.arrayContaining(["--tail", "--timestamps"]));
  expect(complete("", "completion", "")).toEqual(["bash", "fish", "zsh"]);
  expect(complete("", "apply-config", "-f", "")).toEqual(["FILES"]);
});
