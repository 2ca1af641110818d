// `trellis completion bash`: a bash completion script for the commands and their flags, made from their settings.
import type { SettingSpecs } from '@trellis/kit';

/** A command as completion offers it: its name and every set of settings its flags come from. */
export interface CompletedCommand {
  readonly name: string;
  readonly flagSets: readonly SettingSpecs[];
}

/** The words a command's flags are written as: `--x`, and `--no-x` beside it for a switch. */
export function flagWords(flagSets: readonly SettingSpecs[]): string[] {
  const words = flagSets.flatMap((specs) =>
    Object.values(specs).flatMap((spec) => {
      if (spec.flag === undefined) return [];
      return spec.boolean === true ? [`--${spec.flag}`, `--no-${spec.flag}`] : [`--${spec.flag}`];
    }),
  );
  return [...new Set([...words, '--help'])];
}

/**
 * The script `source <(trellis completion bash)` loads: the command first, then its flags; any other word falls back
 * to file names (data directories, route files, certificates).
 */
export function bashCompletion(commands: readonly CompletedCommand[], topLevel: readonly string[]): string {
  const cases = commands.map((c) => `    ${c.name}) flags='${flagWords(c.flagSets).join(' ')}' ;;`);
  return `# bash completion for trellis, made by 'trellis completion bash'; load it with: source <(trellis completion bash)
_trellis() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  if (( COMP_CWORD == 1 )); then
    mapfile -t COMPREPLY < <(compgen -W '${[...commands.map((c) => c.name), ...topLevel].join(' ')}' -- "$cur")
    return
  fi
  [[ $cur == -* ]] || return
  local flags
  case \${COMP_WORDS[1]} in
${cases.join('\n')}
    *) return ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
}
complete -o default -F _trellis trellis
`;
}
