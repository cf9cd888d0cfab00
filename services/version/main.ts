import { buildInfo } from "../../core/buildinfo/buildinfo.ts";

const HELP = `Usage: bunker version [-o text|json]

Prints the version of this binary, the git commit it was built from, the Bun runtime inside it
and when it was built.`;

export function main(argv: string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  const info = buildInfo();
  const json = argv.includes("json") || argv.includes("-ojson") || argv.includes("--output=json");
  if (json) {
    console.log(JSON.stringify(info, null, 2));
    return 0;
  }
  console.log(`Bunker ${info.version}\n  commit: ${info.commit}\n  bun:    ${info.bun}\n  built:  ${info.built}`);
  return 0;
}
