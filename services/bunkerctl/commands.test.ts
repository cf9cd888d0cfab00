import { expect, spyOn, test } from "bun:test";
import { commands } from "./commands.ts";

test("every bunkerctl command answers --help with its usage line and exit 0", async () => {
  const log = spyOn(console, "log").mockImplementation(() => {});
  try {
    for (const c of commands) {
      log.mockClear();
      const code = await c.run(["--help"]);
      const out = log.mock.calls.map((a) => a.join(" ")).join("\n");
      expect({ cmd: c.path.join(" "), code, usage: out.startsWith(`Usage: bunkerctl ${c.path.join(" ")}`) }).toEqual({ cmd: c.path.join(" "), code: 0, usage: true });
    }
  } finally {
    log.mockRestore();
  }
});
