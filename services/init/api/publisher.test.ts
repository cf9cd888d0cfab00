import { expect, test } from "bun:test";
import { Store } from "../../../core/resources/index.ts";
import { GrpcError, statusName } from "../../../core/grpc/status.ts";
import { ADDRESS_STATUSES, LINK_STATUSES, NETWORK_STATUS } from "../../../core/netresources/kinds.ts";
import { resourcePublisherImpl } from "./publisher.ts";

const NETWORKD = 52;
const peer = (uid: number) => ({ peer: { transport: "unix" as const, uid, gid: uid, pid: 1234 } });
const addr = (id: string, address: string) => ({ id, specJson: JSON.stringify({ link: "eth0", address }) });

function setup() {
  const store = new Store();
  const pub = resourcePublisherImpl(store, () => [{ uid: NETWORKD, owner: "networkd", kinds: [LINK_STATUSES, ADDRESS_STATUSES] }]);
  return { store, pub };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GrpcError) return `${statusName(err.code)}: ${err.details}`;
    throw err;
  }
  throw new Error("expected a refusal");
}

test("the publishing service's uid writes its kinds, owned by it; identical specs write nothing", async () => {
  const { store, pub } = setup();
  const put = () => pub.Put({ ...ADDRESS_STATUSES, resource: addr("eth0/10.5.0.2/24", "10.5.0.2/24") }, peer(NETWORKD));
  expect(await put()).toEqual({ version: 1, changed: true });
  expect(await put()).toEqual({ version: 1, changed: false });
  const r = store.get({ ...ADDRESS_STATUSES, id: "eth0/10.5.0.2/24" })!;
  expect([r.metadata.owner, r.spec]).toEqual(["networkd", { link: "eth0", address: "10.5.0.2/24" }]);
  expect(await pub.Delete({ ...ADDRESS_STATUSES, id: "eth0/10.5.0.2/24" }, peer(NETWORKD))).toEqual({ existed: true });
  expect(await pub.Delete({ ...ADDRESS_STATUSES, id: "eth0/10.5.0.2/24" }, peer(NETWORKD))).toEqual({ existed: false });
});

test("any other uid, root included, is refused and nothing is written", async () => {
  const { store, pub } = setup();
  for (const uid of [0, 65534, NETWORKD + 1]) {
    expect(await refusal(pub.Put({ ...ADDRESS_STATUSES, resource: addr("x", "10.0.0.1/8") }, peer(uid)))).toBe(`PERMISSION_DENIED: uid ${uid} publishes no resources (only the uids of services that declare what they publish may)`);
    expect(await refusal(pub.Replace({ ...ADDRESS_STATUSES, resources: [] }, peer(uid)))).toStartWith("PERMISSION_DENIED");
  }
  expect(store.list(ADDRESS_STATUSES)).toEqual([]);
});

test("a kind the service did not declare, or a resource another owner wrote, is refused", async () => {
  const { store, pub } = setup();
  expect(await refusal(pub.Put({ ...NETWORK_STATUS, resource: { id: "status", specJson: '{"online":true}' } }, peer(NETWORKD))))
    .toContain("PERMISSION_DENIED: networkd (uid 52) may not publish network/NetworkStatuses.network.bunker.dev");
  store.create({ ...LINK_STATUSES, id: "eth0" }, { up: true }, { owner: "someone-else" });
  expect(await refusal(pub.Put({ ...LINK_STATUSES, resource: { id: "eth0", specJson: "{}" } }, peer(NETWORKD)))).toContain('owned by "someone-else", cannot be written by "networkd"');
  expect(await refusal(pub.Delete({ ...LINK_STATUSES, id: "eth0" }, peer(NETWORKD)))).toStartWith("PERMISSION_DENIED");
  // A replace touching it fails whole: its other items are not written either.
  expect(await refusal(pub.Replace({ ...LINK_STATUSES, resources: [{ id: "lo", specJson: "{}" }, { id: "eth0", specJson: "{}" }] }, peer(NETWORKD)))).toStartWith("PERMISSION_DENIED");
  expect(store.list(LINK_STATUSES).map((r) => r.metadata.id)).toEqual(["eth0"]);
  expect(store.get({ ...LINK_STATUSES, id: "eth0" })!.spec).toEqual({ up: true });
});

test("replace makes the caller's resources of a kind exactly the list", async () => {
  const { store, pub } = setup();
  const ids = () => store.list(ADDRESS_STATUSES).map((r) => r.metadata.id);
  expect(await pub.Replace({ ...ADDRESS_STATUSES, resources: [addr("a", "10.0.0.1/24"), addr("b", "10.0.0.2/24")] }, peer(NETWORKD))).toEqual({ created: 2, updated: 0, unchanged: 0, destroyed: 0 });
  expect(await pub.Replace({ ...ADDRESS_STATUSES, resources: [addr("b", "10.0.0.2/24"), addr("c", "10.0.0.3/24"), addr("a", "10.0.0.9/24")] }, peer(NETWORKD))).toEqual({ created: 1, updated: 1, unchanged: 1, destroyed: 0 });
  expect(await pub.Replace({ ...ADDRESS_STATUSES, resources: [addr("c", "10.0.0.3/24")] }, peer(NETWORKD))).toEqual({ created: 0, updated: 0, unchanged: 1, destroyed: 2 });
  expect(ids()).toEqual(["c"]);
  expect(await refusal(pub.Replace({ ...ADDRESS_STATUSES, resources: [addr("c", "x"), addr("c", "y")] }, peer(NETWORKD)))).toBe("INVALID_ARGUMENT: replace AddressStatuses.network.bunker.dev: id c appears twice");
  expect(await refusal(pub.Put({ ...ADDRESS_STATUSES, resource: { id: "d", specJson: "{nope" } }, peer(NETWORKD)))).toStartWith("INVALID_ARGUMENT: put AddressStatuses.network.bunker.dev d: spec_json is not JSON");
});
