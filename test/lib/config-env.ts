/**
 * What the deployment files may set, read from the code that reads it: the MARQUEE_* variable names
 * each service's loadConfig reads (services/<service>/config.ts and the helpers of
 * services/common/config.ts it calls), the one the image itself reads (deploy/Dockerfile:
 * MARQUEE_SERVICE picks the entry point), and the node lists both booking and gateway settings use.
 * Shared by test/deploy-static.test.ts (Compose) and test/k8s-static.test.ts (Kubernetes), so the
 * two are held to the same rule.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

/** The deployables, each a folder under services/ with config.ts and main.ts. */
export const SERVICES = ['catalog', 'booking', 'recommendation', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

const names = (source: string): string[] => source.match(/MARQUEE_[A-Z0-9_]+/g) ?? [];

/** Source without its comments: a variable named in a doc comment is not one the code reads. */
const code = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');

/**
 * MARQUEE_* variables a service's process reads, broadly: every name in its own config, in the shared
 * helpers (whether it calls them or not), in the image's gRPC health check, and those read by the
 * services/common helpers its main.ts calls (readOtlpEndpoint → MARQUEE_OTLP_ENDPOINT).
 */
export function variablesRead(service: string): Set<string> {
  const sources = [
    read(`services/${service}/config.ts`),
    read('services/common/config.ts'),
    read('scripts/grpc-health.ts'),
  ];
  return new Set([...sources.flatMap(names), ...helpersCalledBy(`services/${service}/main.ts`)]);
}

/** The variables read by the services/common helpers that `file` imports and calls. */
function helpersCalledBy(file: string): Set<string> {
  const source = code(read(file));
  const found = new Set<string>();
  const modules = [...source.matchAll(/from '\.\.\/common\/([\w-]+)'/g)].map((match) => match[1]!);
  for (const module of new Set(modules))
    for (const [helper, variables] of helperVariables(module))
      if (new RegExp(`\\b${helper}\\(`).test(source)) for (const name of variables) found.add(name);
  return found;
}

/**
 * The variable names each exported function of a services/common module reads by itself
 * (readLogLevel → MARQUEE_LOG_LEVEL, ...); helpers that take the name as an argument read none.
 */
export function helperVariables(module = 'config'): Map<string, string[]> {
  const source = code(read(`services/common/${module}.ts`));
  const helpers = new Map<string, string[]>();
  const starts = [...source.matchAll(/^export (?:async )?function (\w+)\(/gm)];
  starts.forEach((match, i) => {
    const body = source.slice(match.index, starts[i + 1]?.index ?? source.length);
    helpers.set(match[1]!, [...new Set(names(body))]);
  });
  return helpers;
}

/**
 * Exactly the MARQUEE_* variables a service's loadConfig reads: the names in its config.ts plus the
 * names read by the services/common helpers it imports and calls.
 */
export function configVariables(service: ServiceName): Set<string> {
  const file = `services/${service}/config.ts`;
  return new Set([...names(code(read(file))), ...helpersCalledBy(file)]);
}

/** Variables the image reads itself (deploy/Dockerfile ENV and CMD): MARQUEE_SERVICE. */
export function imageVariables(): Set<string> {
  const dockerfile = read('deploy/Dockerfile');
  const lines = dockerfile.split('\n').filter((line) => /^(ENV|CMD|ENTRYPOINT) /.test(line));
  return new Set(lines.flatMap(names));
}

/** "1=host:port,2=host:port" → [[1, 'host:port'], ...]. */
export function nodeList(value: string | undefined): [number, string][] {
  return (value ?? '').split(',').map((entry) => {
    const [id, address] = entry.split('=');
    return [Number(id), address!];
  });
}
