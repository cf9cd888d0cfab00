/** Where init's API socket lives on a node. */
export const DEFAULT_NODE_SOCKET = "/system/run/init.sock";
