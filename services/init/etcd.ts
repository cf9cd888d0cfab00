/**
 * etcd on a control plane, as a service of init (the real etcd, 3.4, found on the host or node:
 * /usr/bin/etcd), with TLS everywhere from the etcd CA of the config (cluster.etcd.ca, ECDSA
 * P-256; only control planes hold its key):
 * - a peer certificate (serverAuth + clientAuth, naming the node's hostname and addresses: etcd
 *   checks a peer's certificate against the address it dials from) and a server certificate for
 *   the client API, written for etcd's own uid only (folder 0700, files 0400), 24 h, made again
 *   at every start and at half their life (etcd reads them anew for each connection);
 * - a client certificate for init's own calls (health, join, members), kept in init's memory.
 * etcd refuses peers and clients without a certificate from that CA (--client-cert-auth,
 * --peer-client-cert-auth, the CA as the only trusted CA).
 *
 * etcd starts only once this node is a member or about to become one: `bootstrap` (a new cluster
 * of this node alone), or the join loop, which asks a running member (found through
 * cluster.controlPlane.nodes and the endpoint's host) to add this node as a learner, starts etcd
 * with the existing cluster, and promotes the learner once it has caught up. A node whose data
 * folder already holds a member (etcd's `member/`) starts etcd as it is. `bootstrap` with
 * `recover` starts the new cluster from an uploaded snapshot instead, restored by etcdctl.
 *
 * Care of a running member: leave (also reset's first step), remove-member, forfeit-leadership,
 * defragment, alarms (list, disarm), snapshot.
 */
export { clientTls, etcdCA, writeEtcdCerts } from "./etcd/certs.ts";
export { ETCD_BINARIES, ETCD_CLIENT_PORT, ETCD_PEER_PORT, ETCD_UID, etcdBinary, etcdConfigFile, EtcdRefusal, MAX_SNAPSHOT_BYTES, urlOf, type EtcdConfig } from "./etcd/config.ts";
export { initialCluster, joinCandidates, ownAddress } from "./etcd/join.ts";
export { EtcdNode, type EtcdOptions } from "./etcd/node.ts";
