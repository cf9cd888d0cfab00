import { runSetList } from "../clientconfig-cmd.ts";

export const run = (argv: string[]): number =>
  runSetList(argv, "endpoints", "endpoint", "the API addresses bunkerctl dials (any control-plane node,\na VIP or a load balancer). Requests reach other nodes through them.");
