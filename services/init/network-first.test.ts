import { expect, test } from "bun:test";
import { ADDRESS_STATUSES } from "../../core/netresources/kinds.ts";
import { Store } from "../../core/resources/index.ts";
import { waitForGlobalAddress } from "./network-first.ts";

test("resolves with the first global address, ignoring link-local ones", async () => {
  const store = new Store();
  const wait = waitForGlobalAddress(store, 5_000);
  store.create({ ...ADDRESS_STATUSES, id: "eth0/fe80::1/64" }, { link: "eth0", address: "fe80::1/64", family: 6, scope: "link" }, { owner: "n" });
  setTimeout(() => store.create({ ...ADDRESS_STATUSES, id: "eth0/10.0.2.15/24" }, { link: "eth0", address: "10.0.2.15/24", family: 4, scope: "global" }, { owner: "n" }), 20);
  expect(await wait).toEqual(["eth0 10.0.2.15/24"]);
});

test("gives up with [] at the deadline, and rejects when aborted", async () => {
  expect(await waitForGlobalAddress(new Store(), 30)).toEqual([]);
  const ac = new AbortController();
  const w = waitForGlobalAddress(new Store(), 5_000, ac.signal);
  ac.abort(new Error("stop"));
  await expect(w).rejects.toThrow("stop");
});
