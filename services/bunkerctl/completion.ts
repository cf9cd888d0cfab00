/**
 * Shell completion scripts (bash, zsh, fish) made from a model of the commands: their words,
 * summaries, flags and first-argument choices. The model is read from the command list and each
 * command's own --help (cmd/completion.ts), so a script is as current as the binary that made it.
 */

export interface FlagSpec {
  long: string;
  short?: string;
  /** Takes a value (the next word). */
  value: boolean;
  description: string;
}

export interface CommandSpec {
  path: string[];
  summary: string;
  flags: FlagSpec[];
  /** Words the first argument may be (e.g. bash|zsh|fish), when the usage line lists them. */
  choices: string[];
}

const FLAG_LINE = /^ {2,}(?:-([A-Za-z0-9]), )?--([a-z][\w-]*)(?:[ =]([A-Z][^\s]*))?(?: {2,}(.*))?$/;

/** The flags a command's help lists ("  -f, --follow   keep printing", "  --tail N   ..."). */
export function flagsFromHelp(help: string): FlagSpec[] {
  const out: FlagSpec[] = [];
  for (const line of help.split("\n")) {
    const m = FLAG_LINE.exec(line);
    if (!m || out.some((f) => f.long === m[2])) continue;
    out.push({ long: m[2]!, ...(m[1] ? { short: m[1] } : {}), value: m[3] !== undefined, description: (m[4] ?? "").trim() });
  }
  return out;
}

/** The choices of the first argument in a usage line ("completion bash|zsh|fish"), if any. */
export function choicesFromUsage(help: string, path: string[]): string[] {
  const usage = help.split("\n")[0] ?? "";
  const prefix = `Usage: bunkerctl ${path.join(" ")} `;
  if (!usage.startsWith(prefix)) return [];
  const first = usage.slice(prefix.length).split(/\s+/)[0] ?? "";
  const m = /^\[?([a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)+)\]?$/.exec(first);
  return m ? m[1]!.split("|") : [];
}

interface Model {
  /** First words, with a summary (a group's: "NAME ..." commands). */
  top: [string, string][];
  /** Group word -> its second words with summaries. */
  groups: Map<string, [string, string][]>;
  commands: CommandSpec[];
  /** Flags that take a value wherever they stand (the connection flags and -o). */
  globalValueFlags: string[];
  globalFlags: FlagSpec[];
}

function model(commands: CommandSpec[], globalFlags: FlagSpec[]): Model {
  const top: [string, string][] = [];
  const groups = new Map<string, [string, string][]>();
  for (const c of commands) {
    const [first, second] = c.path as [string, string?];
    if (second === undefined) top.push([first, c.summary]);
    else {
      if (!groups.has(first)) { groups.set(first, []); top.push([first, `${first} commands`]); }
      groups.get(first)!.push([second, c.summary]);
    }
  }
  const globalValueFlags = globalFlags.filter((f) => f.value).flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
  return { top, groups, commands, globalValueFlags, globalFlags };
}

const flagWords = (fs: FlagSpec[]) => fs.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
/** Single-quoted for sh, zsh and fish alike (a quote inside becomes '\''; fish takes \' in quotes). */
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const qFish = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

export function bashScript(commands: CommandSpec[], globalFlags: FlagSpec[], version: string): string {
  const m = model(commands, globalFlags);
  const groupNames = [...m.groups.keys()];
  const cases = [
    `    "") words=${q([...m.top.map(([w]) => w), "help"].join(" "))}; [[ $cur == -* ]] && words=${q(flagWords(m.globalFlags).join(" "))} ;;`,
    ...[...m.groups].map(([g, subs]) => `    ${q(g)}) words=${q(subs.map(([w]) => w).join(" "))} ;;`),
    ...m.commands.map((c) => `    ${q(c.path.join(" "))}) if [[ $cur == -* ]]; then words=${q(flagWords(c.flags).join(" "))}${c.choices.length ? `; elif (( nargs == 0 )); then words=${q(c.choices.join(" "))}` : ""}; fi ;;`),
  ];
  return `# bash completion for bunkerctl ${version}, made by \`bunkerctl completion bash\` from its commands.
# Load it now:     source <(bunkerctl completion bash)
# or for good:     bunkerctl completion bash > /etc/bash_completion.d/bunkerctl
_bunkerctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path="" nargs=0 i w words=""
  # The command's words so far: flags (and the values of those that take one) are skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      ${m.globalValueFlags.join("|")}) ((i++)) ;;
      -*) ;;
      *)
        if [[ -z $path ]]; then path=$w
        else case $path in
          ${groupNames.map((g) => q(g)).join("|")}) path="$path $w" ;;
          *) ((nargs++)) ;;
        esac; fi ;;
    esac
  done
  case $path in
${cases.join("\n")}
    *) words="" ;;
  esac
  COMPREPLY=()
  [[ -n $words ]] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  # Nothing offered: \`complete -o default\` falls back to file names (configs, patches, paths).
  return 0
}
complete -o default -F _bunkerctl bunkerctl
`;
}

export function zshScript(commands: CommandSpec[], globalFlags: FlagSpec[], version: string): string {
  const m = model(commands, globalFlags);
  const desc = (pairs: [string, string][]) => `(${pairs.map(([w, d]) => q(`${w}:${d.replace(/:/g, "\\:")}`)).join(" ")})`;
  const flagDesc = (fs: FlagSpec[]) => desc(fs.flatMap((f) => [[`--${f.long}`, f.description], ...(f.short ? [[`-${f.short}`, f.description] as [string, string]] : [])] as [string, string][]));
  const cases = [
    `    ("") if [[ $PREFIX == -* ]]; then list=${flagDesc(m.globalFlags)}; else list=${desc([...m.top, ["help", "list the commands"]])}; fi ;;`,
    ...[...m.groups].map(([g, subs]) => `    (${q(g)}) list=${desc(subs)} ;;`),
    ...m.commands.map((c) => `    (${q(c.path.join(" "))}) if [[ $PREFIX == -* ]]; then list=${flagDesc(c.flags)}${c.choices.length ? `; elif (( nargs == 0 )); then list=${desc(c.choices.map((x) => [x, c.summary]))}` : ""}; fi ;;`),
  ];
  return `#compdef bunkerctl
# zsh completion for bunkerctl ${version}, made by \`bunkerctl completion zsh\` from its commands.
# Load it now:     source <(bunkerctl completion zsh)     (after compinit)
# or for good:     bunkerctl completion zsh > "\${fpath[1]}/_bunkerctl"
_bunkerctl() {
  local path_="" w i nargs=0
  local -a list
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    case $w in
      (${m.globalValueFlags.join("|")}) (( i++ )) ;;
      (-*) ;;
      (*)
        if [[ -z $path_ ]]; then path_=$w
        else case $path_ in
          (${[...m.groups.keys()].map((g) => q(g)).join("|")}) path_="$path_ $w" ;;
          (*) (( nargs++ )) ;;
        esac; fi ;;
    esac
  done
  case $path_ in
${cases.join("\n")}
  esac
  if (( \${#list} )); then _describe -t commands 'bunkerctl' list; else _files; fi
}
if (( $+functions[compdef] )); then compdef _bunkerctl bunkerctl; fi
if [[ \${funcstack[1]} == _bunkerctl ]]; then _bunkerctl "$@"; fi
`;
}

export function fishScript(commands: CommandSpec[], globalFlags: FlagSpec[], version: string): string {
  const m = model(commands, globalFlags);
  const lines: string[] = [];
  const at = (p: string) => qFish(`__bunkerctl_at ${p ? qFish(p) : "''"}`);
  const flagLine = (cond: string, f: FlagSpec) =>
    `complete -c bunkerctl -n ${cond} -l ${f.long}${f.short ? ` -s ${f.short}` : ""}${f.value ? " -r" : ""}${f.description ? ` -d ${qFish(f.description)}` : ""}`;
  for (const [w, d] of m.top) lines.push(`complete -c bunkerctl -n ${at("")} -a ${qFish(w)} -d ${qFish(d)}`);
  for (const f of m.globalFlags) lines.push(flagLine(at(""), f));
  for (const [g, subs] of m.groups) for (const [w, d] of subs) lines.push(`complete -c bunkerctl -n ${at(g)} -a ${qFish(w)} -d ${qFish(d)}`);
  for (const c of m.commands) {
    const p = c.path.join(" ");
    for (const f of c.flags) lines.push(flagLine(at(p), f));
    if (c.choices.length) lines.push(`complete -c bunkerctl -n ${qFish(`__bunkerctl_at ${qFish(p)}; and __bunkerctl_nargs 0`)} -a ${qFish(c.choices.join(" "))}`);
    // Arguments are often files (configs, patches): offer them where no choice is listed.
    else lines.push(`complete -c bunkerctl -n ${at(p)} -F`);
  }
  return `# fish completion for bunkerctl ${version}, made by \`bunkerctl completion fish\` from its commands.
# Load it now:     bunkerctl completion fish | source
# or for good:     bunkerctl completion fish > ~/.config/fish/completions/bunkerctl.fish
function __bunkerctl_words
    # The command's words so far and then the count of its arguments; flags (and the values
    # of those that take one) are skipped.
    set -l path
    set -l nargs 0
    set -l skip 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case ${m.globalValueFlags.join(" ")}
                set skip 1
            case '-*'
            case '*'
                if test (count $path) -eq 0
                    set path $w
                else if test (count $path) -eq 1; and contains -- $path[1] ${[...m.groups.keys()].join(" ")}
                    set path $path $w
                else
                    set nargs (math $nargs + 1)
                end
        end
    end
    echo (string join ' ' -- $path)
    echo $nargs
end
function __bunkerctl_at
    set -l w (__bunkerctl_words)
    test "$w[1]" = "$argv[1]"
end
function __bunkerctl_nargs
    set -l w (__bunkerctl_words)
    test "$w[2]" = "$argv[1]"
end
complete -c bunkerctl -f
${lines.join("\n")}
`;
}
