import { expect, test } from "bun:test";
import { Store } from "./store.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { AlreadyExistsError, ConflictError, NotFoundError, OwnerError, type WatchEvent } from "./resource.ts";
import { columnValue, definitionOfDefinitions, registerDefinition, resolveDefinition } from "./definitions.ts";

const kind = { namespace: "runtime", type: "Things.test.bunker.dev" };
const ref = (id: string) => ({ ...kind, id });

test("create, get and list carry metadata; versions grow by one per update", () => {
  let t = 0;
  const s = new Store({ now: () => new Date(1_700_000_000_000 + 1000 * t++) });
  const a = s.create(ref("b"), { n: 1 }, { labels: { role: "x" } });
  expect(a.metadata).toMatchObject({ namespace: "runtime", type: kind.type, id: "b", version: 1, phase: "running", owner: "", labels: { role: "x" } });
  s.create(ref("a"), { n: 0 });
  const u = s.update(ref("b"), { n: 2 });
  expect(u.metadata.version).toBe(2);
  expect(u.metadata.created).toBe(a.metadata.created);
  expect(u.metadata.updated > a.metadata.updated).toBe(true);
  expect(s.list(kind).map((r) => r.metadata.id)).toEqual(["a", "b"]);
  expect(s.list(kind, { role: "x" }).map((r) => r.metadata.id)).toEqual(["b"]);
  expect(s.get(ref("zzz"))).toBeUndefined();
  expect(() => s.create(ref("a"), {})).toThrow(AlreadyExistsError);
  expect(() => s.update(ref("zzz"), {})).toThrow(NotFoundError);
});

test("values are copies: mutating what get returned does not change the store", () => {
  const s = new Store();
  s.create(ref("a"), { list: [1] });
  s.get<{ list: number[] }>(ref("a"))!.spec.list.push(2);
  expect(s.get<{ list: number[] }>(ref("a"))!.spec.list).toEqual([1]);
});

test("a version-checked update from a stale reader fails with a conflict naming both versions", () => {
  const s = new Store();
  s.create(ref("a"), { n: 1 });
  const seen = s.get(ref("a"))!;
  s.update(ref("a"), { n: 2 }, { expectedVersion: seen.metadata.version });
  let err: unknown;
  try { s.update(ref("a"), { n: 3 }, { expectedVersion: seen.metadata.version }); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(ConflictError);
  expect((err as Error).message).toContain("expected 1, current is 2");
  expect(s.get<{ n: number }>(ref("a"))!.spec.n).toBe(2);
});

test("only the owner may update or destroy; modify with an equal spec writes nothing", () => {
  const s = new Store();
  s.create(ref("a"), { n: 1 }, { owner: "ctrl" });
  expect(() => s.update(ref("a"), { n: 2 })).toThrow(OwnerError);
  expect(() => s.destroy(ref("a"), { owner: "other" })).toThrow(OwnerError);
  const same = s.modify(ref("a"), () => ({ n: 1 }), { owner: "ctrl" });
  expect(same.metadata.version).toBe(1);
  expect(s.modify(ref("a"), () => ({ n: 5 }), { owner: "ctrl" }).metadata.version).toBe(2);
  s.destroy(ref("a"), { owner: "ctrl" });
  expect(s.get(ref("a"))).toBeUndefined();
});

test("watch delivers the snapshot, Bootstrapped, then Created/Updated/Destroyed in order", () => {
  const s = new Store();
  s.create(ref("a"), { n: 1 });
  const seen: string[] = [];
  const stop = s.watch(kind, (ev) => seen.push(ev.type === "Bootstrapped" ? "B" : `${ev.type}:${ev.resource.metadata.id}`));
  s.create(ref("b"), {});
  s.update(ref("a"), { n: 2 });
  s.destroy(ref("b"));
  stop();
  s.create(ref("c"), {});
  expect(seen).toEqual(["Created:a", "B", "Created:b", "Updated:a", "Destroyed:b"]);
});

test("a watch on one id sees only that id; a watcher that writes keeps every watcher in order", () => {
  const s = new Store();
  const one: string[] = [];
  s.watch(kind, (ev) => { if (ev.type !== "Bootstrapped") one.push(ev.resource.metadata.id); }, { id: "x", tailOnly: true });
  // Watcher A reacts to "a" by writing "x"; watcher B must still see a before x.
  s.watch(kind, (ev) => { if (ev.type === "Created" && ev.resource.metadata.id === "a") s.create(ref("x"), {}); }, { tailOnly: true });
  const order: string[] = [];
  s.watch(kind, (ev) => { if (ev.type !== "Bootstrapped") order.push(ev.resource.metadata.id); }, { tailOnly: true });
  s.create(ref("a"), {});
  expect(order).toEqual(["a", "x"]);
  expect(one).toEqual(["x"]);
});

test("a watcher that throws is reported and does not stop the others", () => {
  const errors: unknown[] = [];
  const s = new Store({ onWatcherError: (e) => errors.push(e) });
  s.watch(kind, () => { throw new Error("boom"); }, { tailOnly: true });
  const seen: WatchEvent[] = [];
  s.watch(kind, (ev) => seen.push(ev), { tailOnly: true });
  s.create(ref("a"), {});
  expect(errors.length).toBe(1);
  expect(seen.length).toBe(1);
});

test("watchIter yields the same stream and ends on abort", async () => {
  const s = new Store();
  s.create(ref("a"), {});
  const ac = new AbortController();
  const got: string[] = [];
  const done = (async () => {
    for await (const ev of s.watchIter(kind, { signal: ac.signal })) {
      got.push(ev.type);
      if (got.length === 3) ac.abort();
    }
  })();
  expect(await eventually(() => got.length === 2)).toBe(true);
  s.update(ref("a"), { n: 1 });
  await done;
  expect(got).toEqual(["Created", "Bootstrapped", "Updated"]);
});

test("resource definitions resolve by type, short name and alias, and print columns", () => {
  const s = new Store();
  registerDefinition(s, definitionOfDefinitions);
  registerDefinition(s, { type: "Services.runtime.bunker.dev", aliases: ["svc", "service"], namespace: "runtime", columns: [{ name: "STATE", path: "spec.state" }] });
  expect(resolveDefinition(s, "SVC")?.type).toBe("Services.runtime.bunker.dev");
  expect(resolveDefinition(s, "services")?.namespace).toBe("runtime");
  expect(resolveDefinition(s, "rd")?.type).toBe(definitionOfDefinitions.type);
  expect(resolveDefinition(s, "nope")).toBeUndefined();
  expect(() => registerDefinition(s, { type: "bad", aliases: [], namespace: "x", columns: [] })).toThrow("Name.group.domain");
  const r = s.create(ref("a"), { state: "Running", tags: ["a", "b"] });
  expect(columnValue(r, "spec.state")).toBe("Running");
  expect(columnValue(r, "spec.tags")).toBe("a,b");
  expect(columnValue(r, "spec.missing.deep")).toBe("");
});
