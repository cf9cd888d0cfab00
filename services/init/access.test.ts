import { expect, test } from "bun:test";
import { accessProblems, describeProblem, permits } from "./access.ts";

test("permits: the owner class, else the group class, else others; root passes", () => {
  const st = { uid: 0, gid: 0, mode: 0o40701 };
  expect(permits(st, 50, 50, 1)).toBe(true); // others --x
  expect(permits({ ...st, mode: 0o40700 }, 50, 50, 1)).toBe(false);
  expect(permits({ ...st, mode: 0o40710, gid: 50 }, 50, 50, 1)).toBe(true); // its group
  // The owner class applies to the owner even when others could pass.
  expect(permits({ uid: 50, gid: 0, mode: 0o40601 }, 50, 50, 1)).toBe(false);
  expect(permits({ ...st, mode: 0o40700 }, 0, 0, 1)).toBe(true);
});

test("accessProblems: the first folder on the way that refuses, one entry per folder naming every service it stops", () => {
  const modes: Record<string, number> = { "/": 0o755, "/root": 0o700, "/root/a": 0o700, "/srv": 0o755, "/srv/bunker": 0o744, "/usr": 0o755, "/usr/bin": 0o755, "/usr/bin/bunker": 0o700 };
  const stat = (p: string) => (p in modes ? { uid: 0, gid: 0, mode: modes[p]! } : undefined);
  const folders = [{ what: "the state dir /root/a/state", path: "/root/a/state" }];
  const got = accessProblems([
    { id: "apid", uid: 50, gid: 50, folders, program: "/usr/bin/bunker" },
    { id: "networkd", uid: 52, gid: 50, folders },
    { id: "root-svc", uid: 0, gid: 0, folders },
  ], stat);
  expect(got).toEqual([
    { at: "/root", mode: 0o700, owner: 0, group: 0, need: "search", what: "the state dir /root/a/state", target: "folder", services: [{ id: "apid", uid: 50, gid: 50 }, { id: "networkd", uid: 52, gid: 50 }] },
    { at: "/usr/bin/bunker", mode: 0o700, owner: 0, group: 0, need: "execute", what: "its program /usr/bin/bunker", target: "program", services: [{ id: "apid", uid: 50, gid: 50 }] },
  ]);
  expect(describeProblem(got[1]!)).toBe("apid (uid 50, gid 50) runs as its own user and cannot reach its program /usr/bin/bunker: /usr/bin/bunker (mode 0700, owner 0:0) may not be run by it; put the binary where others may run it (e.g. /usr/local/bin), or let it run it: chmod o+x /usr/bin/bunker");
  expect(describeProblem(got[0]!)).toBe("apid (uid 50, gid 50), networkd (uid 52, gid 50) run as their own users and cannot reach the state dir /root/a/state: /root (mode 0700, owner 0:0) does not let them through; choose a --state-dir whose every parent others may pass through (e.g. under /var/lib or /srv), or let them through: chmod o+x /root");
  expect(accessProblems([{ id: "apid", uid: 50, gid: 50, folders: [{ what: "x", path: "/srv/bunker/state" }] }], stat)).toEqual([
    expect.objectContaining({ at: "/srv/bunker", need: "search" }),
  ]);
  expect(accessProblems([{ id: "apid", uid: 50, gid: 50, folders: [{ what: "x", path: "/srv/state" }] }], stat)).toEqual([]);
});
