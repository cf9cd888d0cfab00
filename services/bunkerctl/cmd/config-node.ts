import { runSetList } from "../clientconfig-cmd.ts";

export const run = (argv: string[]): number =>
  runSetList(argv, "nodes", "node", "the nodes commands act on by default (a command's --nodes\noverrides them). They are reached through the endpoints.");
