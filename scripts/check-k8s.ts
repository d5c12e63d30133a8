/**
 * `npm run check:k8s`: validates every object deploy/k8s/kustomization.yaml lists against the
 * official Kubernetes OpenAPI schemas (the kubernetes-models package: types, required fields, enums),
 * offline. test/k8s-static.test.ts runs it; its own schemas add what these do not check (unknown
 * fields) and the consistency with the code.
 *
 *   npx tsx scripts/check-k8s.ts [--dir deploy/k8s]
 *
 * Prints one line per object that fails (file, kind/name, the schema's message) and exits 1, or a
 * summary line and exits 0. kubernetes-models is an ES module only, hence a script (jest runs
 * CommonJS) and dynamic imports by apiVersion and kind.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

interface K8sObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}

interface Validatable {
  validate(): void;
}

type ModelClass = new (data: unknown) => Validatable;

/** Every object of the kustomization's resources, with the file it came from. */
function objectsOf(dir: string): { file: string; object: K8sObject }[] {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources?: string[];
  };
  return (kustomization.resources ?? []).flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))
      .map((document) => document.toJS() as K8sObject | null)
      .filter((object): object is K8sObject => object !== null)
      .map((object) => ({ file, object })),
  );
}

/** The kubernetes-models class for apiVersion + kind (core v1 lives at kubernetes-models/v1). */
async function modelOf(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^[a-z0-9.]+(\/[a-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) return undefined;
  try {
    const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
    const model = module[kind];
    return typeof model === 'function' ? (model as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

export async function checkManifests(dir: string): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  for (const { file, object } of objectsOf(dir)) {
    const name = `${String(object.kind)}/${String(object.metadata?.name ?? '?')}`;
    const model =
      typeof object.apiVersion === 'string' && typeof object.kind === 'string'
        ? await modelOf(object.apiVersion, object.kind)
        : undefined;
    if (!model) {
      problems.push(`${file}: ${name}: no schema for apiVersion ${String(object.apiVersion)}`);
      continue;
    }
    try {
      new model(object).validate();
      checked += 1;
    } catch (error) {
      problems.push(`${file}: ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { checked, problems };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dirFlag = args.indexOf('--dir');
  if (args.length > 0 && (dirFlag !== 0 || args.length !== 2)) {
    process.stderr.write('usage: check-k8s [--dir DIR]\n');
    process.exit(2);
  }
  const dir = path.resolve(dirFlag === 0 ? args[1]! : path.join(__dirname, '..', 'deploy', 'k8s'));
  const { checked, problems } = await checkManifests(dir);
  for (const problem of problems) process.stdout.write(`${problem}\n`);
  if (problems.length > 0) {
    process.stdout.write(`k8s schema check: ${problems.length} object(s) invalid, ${checked} valid\n`);
    process.exit(1);
  }
  process.stdout.write(`k8s schema check: ${checked} objects valid against the Kubernetes schemas\n`);
}

if (require.main === module) void main();
