/**
 * Every process init starts goes through here, so the orphan reaper knows which pids belong to
 * Bun.spawn (whose exit status Bun itself must collect) and which are orphans it may reap.
 */

const ours = new Set<number>();

export function isOurChild(pid: number): boolean {
  return ours.has(pid);
}

export function spawnTracked<
  In extends Bun.SpawnOptions.Writable, Out extends Bun.SpawnOptions.Readable, Err extends Bun.SpawnOptions.Readable,
>(argv: string[], opts: Bun.SpawnOptions.OptionsObject<In, Out, Err>): Bun.Subprocess<In, Out, Err> {
  const p = Bun.spawn(argv, opts);
  ours.add(p.pid);
  // Forget the pid only once Bun has collected its status.
  void p.exited.then(() => ours.delete(p.pid), () => ours.delete(p.pid));
  return p;
}

