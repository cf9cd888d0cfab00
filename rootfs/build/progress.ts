/**
 * Progress display for the image build: numbered steps, a live elapsed-time line on a terminal
 * (every few seconds as plain lines otherwise, so CI logs show the build is alive).
 */
export class Progress {
  private n = 0;
  constructor(
    private readonly total: number,
    private readonly out: (s: string) => void = (s) => process.stderr.write(s),
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}

  async step<T>(title: string, fn: () => Promise<T> | T): Promise<T> {
    const label = `[${++this.n}/${this.total}] ${title}`;
    const start = performance.now();
    const secs = () => ((performance.now() - start) / 1000).toFixed(1);
    this.out(this.tty ? `${label} ...` : `${label} ...\n`);
    const spin = "|/-\\";
    let tick = 0;
    const timer = setInterval(
      () => {
        tick++;
        if (this.tty) this.out(`\r${label} ${spin[tick % 4]} ${secs()} s`);
        else if (tick % 10 === 0) this.out(`${label} ... ${secs()} s\n`);
      },
      this.tty ? 250 : 1000,
    );
    try {
      const r = await fn();
      this.out(`${this.tty ? "\r" : ""}${label}: done in ${secs()} s\n`);
      return r;
    } catch (e) {
      this.out(`${this.tty ? "\r" : ""}${label}: FAILED after ${secs()} s\n`);
      throw e;
    } finally {
      clearInterval(timer);
    }
  }
}
