import { UsageError } from '../args';
import { TARGET_NAMES } from './target';
import type { TargetName } from './target';

/*
 * The target options, taken out of the chaos CLI's arguments before the command's own parser
 * (../args.ts) sees the rest: --target and the options that belong to one target.
 */

export const TARGET_USAGE = `targets (--target, default local):
  local                      the stack \`npm start\` runs (control API in <data-dir>/stack.json)
  compose                    docker-compose.yml's containers (docker kill/pause/start, network disconnect)
      --compose-file FILE    the Compose file (default docker-compose.yml)
      --project NAME         the Compose project name (default: Compose's own choice)
  k8s                        deploy/k8s in a cluster (kubectl delete pod/exec/port-forward, NetworkPolicy)
      --namespace NS         the namespace (default marquee)
      --context NAME         the kubeconfig context (default: the current one)
  soak runs against local only; compose and k8s keep their files in .data/<target> unless --data-dir`;

export interface TargetArgs {
  target: TargetName;
  composeFile: string;
  project?: string;
  namespace: string;
  context?: string;
  /** Whether --data-dir was given (otherwise the target's own default applies). */
  dataDirGiven: boolean;
  /** The arguments left for the command's parser. */
  rest: string[];
}

const OWN: Readonly<Record<string, TargetName | 'all'>> = {
  '--target': 'all',
  '--compose-file': 'compose',
  '--project': 'compose',
  '--namespace': 'k8s',
  '--context': 'k8s',
};

export function splitTargetArgs(argv: readonly string[]): TargetArgs {
  const found = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (OWN[name] === undefined) {
      rest.push(arg);
      continue;
    }
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
    if (found.has(name)) throw new UsageError(`${name} given twice`);
    found.set(name, value);
  }
  const target = found.get('--target') ?? 'local';
  if (!(TARGET_NAMES as readonly string[]).includes(target))
    throw new UsageError(`--target: one of ${TARGET_NAMES.join(', ')}, got ${JSON.stringify(target)}`);
  for (const name of found.keys()) {
    const owner = OWN[name];
    if (owner !== 'all' && owner !== target)
      throw new UsageError(`${name} applies to --target ${owner} only`);
  }
  return {
    target: target as TargetName,
    composeFile: found.get('--compose-file') ?? 'docker-compose.yml',
    project: found.get('--project'),
    namespace: found.get('--namespace') ?? 'marquee',
    context: found.get('--context'),
    dataDirGiven: argv.some((arg) => arg === '--data-dir' || arg.startsWith('--data-dir=')),
    rest,
  };
}
