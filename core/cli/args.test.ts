import { expect, test } from "bun:test";
import { HELP_ASKED, parseFlags, unknownCommand, UsageError } from "./args.ts";

const options = { file: { type: "string", short: "f" }, wipe: { type: "boolean" }, node: { type: "string", short: "n", multiple: true } } as const;

test("values, repeated flags and positionals in any order", () => {
  const p = parseFlags(["a", "-f", "x.yaml", "--wipe", "-n", "1", "--node=2", "b"], options, [0, 2]);
  expect(p).toEqual({ values: { file: "x.yaml", wipe: true, node: ["1", "2"] }, positionals: ["a", "b"] });
});

test("-h or --help before -- asks for help whatever else is wrong; after -- it is an argument", () => {
  expect(parseFlags(["--frob", "-h"], options)).toBe(HELP_ASKED);
  expect(parseFlags(["--help"], options)).toBe(HELP_ASKED);
  expect(parseFlags(["--", "-h"], options, [1, 1])).toEqual({ values: {}, positionals: ["-h"] });
});

test("each mistake is a UsageError naming the flag or word", () => {
  const cases: [string[], string][] = [
    [["--fil", "x"], 'unknown option "--fil": did you mean "--file"?'],
    [["--zzz"], 'unknown option "--zzz"'],
    [["-x"], 'unknown option "-x"'],
    [["-f"], "option -f needs a value"],
    [["--file"], "option --file needs a value"],
    [["--wipe=yes"], "option --wipe takes no value"],
    [["a"], "unexpected argument: a"],
  ];
  for (const [argv, message] of cases) {
    let err: unknown;
    try { parseFlags(argv, options); } catch (e) { err = e; }
    expect({ argv, err: err instanceof UsageError, message: (err as Error | undefined)?.message }).toEqual({ argv, err: true, message });
  }
  expect(() => parseFlags([], options, [1, 1])).toThrow("expected 1 argument, got 0");
  expect(() => parseFlags(["a", "b", "c"], options, [0, 1])).toThrow("unexpected arguments: b c");
});

test("an unknown command names itself and the nearest command, if any", () => {
  expect(unknownCommand("diag", "lins", ["links", "addrs"])).toBe('diag: unknown command "lins": did you mean "links"?');
  expect(unknownCommand("diag", "frobnicate", ["links", "addrs"])).toBe('diag: unknown command "frobnicate"');
});
