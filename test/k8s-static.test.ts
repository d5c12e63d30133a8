/**
 * No cluster runs on the build machines, so deploy/k8s is checked statically, against the code it
 * deploys: every manifest listed in kustomization.yaml parses; every object has the shape its kind
 * requires; names, labels and selectors match up; every port a Service, probe, env address or nginx
 * upstream names is one a container declares; each service's environment holds only variables its
 * loadConfig reads, and the values parse with that loadConfig (the booking node's id derived from its
 * pod ordinal exactly as its command does); ports agree with the services' defaults and Compose; the
 * nginx ConfigMap routes exactly what deploy/nginx.compose.conf routes.
 *
 * Schemas, twice: every object is validated against the official Kubernetes OpenAPI schemas by
 * scripts/check-k8s.ts (the kubernetes-models package, offline: types, required fields, enums; run
 * as a script because the package is an ES module only), and `validate` below holds our own schemas
 * for the kinds deploy/k8s uses, strict about unknown fields (a misspelt `readinesProbe` fails, which
 * the official schemas allow) but covering only the fields we use. Where kubectl is installed,
 * `kubectl kustomize` (offline) must build the same objects as well.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KUBERNETES_DEFAULTS } from '../scripts/lib/chaos/targets/k8s';
import { DEFAULT_PORTS } from '../scripts/lib/nginx';
import { DEFAULT_PEER_PORTS } from '../scripts/lib/stack';
import { loadConfig as loadBookingConfig } from '../services/booking/config';
import { loadConfig as loadCatalogConfig } from '../services/catalog/config';
import { loadConfig as loadGatewayConfig } from '../services/gateway/config';
import { loadConfig as loadRecommendationConfig } from '../services/recommendation/config';
import { SERVICES, configVariables, imageVariables, nodeList } from './lib/config-env';
import type { ServiceName } from './lib/config-env';

const root = path.join(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const K8S = 'deploy/k8s';

// ---------------------------------------------------------------------------------------------------
// The shapes we check (a small JSON-schema of our own: see the header).

type Schema =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'port'
  | 'int-or-string'
  | 'cpu'
  | 'quantity'
  | 'dns-label'
  | 'port-name'
  | 'env-name'
  | { enum: readonly (string | number | boolean)[] }
  | { array: Schema; min?: number }
  | { map: Schema }
  | { object: Record<string, Schema>; required?: readonly string[]; exactlyOne?: readonly string[] };

const obj = (
  object: Record<string, Schema>,
  required: readonly string[] = [],
  exactlyOne?: readonly string[],
): Schema => ({ object, required, exactlyOne });
const arr = (items: Schema, min = 0): Schema => ({ array: items, min });

const stringMap: Schema = { map: 'string' };
const resourceList = obj({ cpu: 'cpu', memory: 'quantity' });
const probe = obj(
  {
    exec: obj({ command: arr('string', 1) }, ['command']),
    grpc: obj({ port: 'port', service: 'string' }, ['port']),
    httpGet: obj({ path: 'string', port: 'int-or-string', scheme: { enum: ['HTTP', 'HTTPS'] } }, ['port']),
    tcpSocket: obj({ port: 'int-or-string' }, ['port']),
    initialDelaySeconds: 'integer',
    periodSeconds: 'integer',
    timeoutSeconds: 'integer',
    failureThreshold: 'integer',
    successThreshold: 'integer',
  },
  [],
  ['exec', 'grpc', 'httpGet', 'tcpSocket'],
);
const seccomp = obj({ type: { enum: ['RuntimeDefault', 'Localhost', 'Unconfined'] } }, ['type']);
const containerSecurity = obj({
  runAsUser: 'integer',
  runAsGroup: 'integer',
  runAsNonRoot: 'boolean',
  allowPrivilegeEscalation: 'boolean',
  readOnlyRootFilesystem: 'boolean',
  capabilities: obj({ drop: arr('string'), add: arr('string') }),
  seccompProfile: seccomp,
});
const envVar = obj(
  {
    name: 'env-name',
    value: 'string',
    valueFrom: obj(
      {
        secretKeyRef: obj({ name: 'dns-label', key: 'string' }, ['name', 'key']),
        configMapKeyRef: obj({ name: 'dns-label', key: 'string' }, ['name', 'key']),
        fieldRef: obj({ fieldPath: 'string' }, ['fieldPath']),
      },
      [],
      ['secretKeyRef', 'configMapKeyRef', 'fieldRef'],
    ),
  },
  ['name'],
);
const container = obj(
  {
    name: 'dns-label',
    image: 'string',
    command: arr('string', 1),
    args: arr('string'),
    env: arr(envVar),
    ports: arr(
      obj({ name: 'port-name', containerPort: 'port', protocol: { enum: ['TCP', 'UDP'] } }, [
        'containerPort',
      ]),
    ),
    startupProbe: probe,
    readinessProbe: probe,
    livenessProbe: probe,
    resources: obj({ requests: resourceList, limits: resourceList }),
    securityContext: containerSecurity,
    volumeMounts: arr(
      obj({ name: 'dns-label', mountPath: 'string', subPath: 'string', readOnly: 'boolean' }, [
        'name',
        'mountPath',
      ]),
    ),
    // Only on init containers: `Always` makes one a native sidecar.
    restartPolicy: { enum: ['Always'] },
  },
  ['name', 'image'],
);
const volume = obj(
  {
    name: 'dns-label',
    emptyDir: obj({ medium: 'string', sizeLimit: 'quantity' }),
    configMap: obj({ name: 'dns-label' }, ['name']),
    secret: obj({ secretName: 'dns-label' }, ['secretName']),
    persistentVolumeClaim: obj({ claimName: 'dns-label' }, ['claimName']),
  },
  ['name'],
  ['emptyDir', 'configMap', 'secret', 'persistentVolumeClaim'],
);
const labelSelector = obj({ matchLabels: stringMap }, ['matchLabels']);
const podSpec = obj(
  {
    containers: arr(container, 1),
    initContainers: arr(container),
    volumes: arr(volume),
    securityContext: obj({
      runAsNonRoot: 'boolean',
      runAsUser: 'integer',
      runAsGroup: 'integer',
      fsGroup: 'integer',
      fsGroupChangePolicy: { enum: ['OnRootMismatch', 'Always'] },
      seccompProfile: seccomp,
    }),
    shareProcessNamespace: 'boolean',
    terminationGracePeriodSeconds: 'integer',
    affinity: obj({
      podAntiAffinity: obj({
        preferredDuringSchedulingIgnoredDuringExecution: arr(
          obj(
            {
              weight: 'integer',
              podAffinityTerm: obj({ topologyKey: 'string', labelSelector }, [
                'topologyKey',
                'labelSelector',
              ]),
            },
            ['weight', 'podAffinityTerm'],
          ),
        ),
      }),
    }),
  },
  ['containers'],
);
const podTemplate = obj(
  { metadata: obj({ labels: stringMap, annotations: stringMap }, ['labels']), spec: podSpec },
  ['metadata', 'spec'],
);
const volumeClaim = obj(
  {
    metadata: obj({ name: 'dns-label' }, ['name']),
    spec: obj(
      {
        accessModes: arr({ enum: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] }, 1),
        storageClassName: 'string',
        resources: obj({ requests: obj({ storage: 'quantity' }, ['storage']) }, ['requests']),
      },
      ['accessModes', 'resources'],
    ),
  },
  ['metadata', 'spec'],
);
const scalingRules = obj({
  stabilizationWindowSeconds: 'integer',
  selectPolicy: { enum: ['Max', 'Min', 'Disabled'] },
  policies: arr(
    obj({ type: { enum: ['Pods', 'Percent'] }, value: 'integer', periodSeconds: 'integer' }, [
      'type',
      'value',
      'periodSeconds',
    ]),
  ),
});
const metadata = obj({ name: 'dns-label', labels: stringMap, annotations: stringMap }, ['name']);
const top = (fields: Record<string, Schema>, required: string[]): Schema =>
  obj({ apiVersion: 'string', kind: 'string', metadata, ...fields }, [
    'apiVersion',
    'kind',
    'metadata',
    ...required,
  ]);

/** Each kind deploy/k8s uses: the apiVersion it must have and its shape. */
const KINDS: Readonly<Record<string, { apiVersion: string; schema: Schema }>> = {
  Namespace: { apiVersion: 'v1', schema: top({}, []) },
  Secret: {
    apiVersion: 'v1',
    schema: top({ type: 'string', stringData: stringMap, data: stringMap }, []),
  },
  ConfigMap: { apiVersion: 'v1', schema: top({ data: stringMap }, ['data']) },
  Service: {
    apiVersion: 'v1',
    schema: top(
      {
        spec: obj(
          {
            type: { enum: ['ClusterIP', 'LoadBalancer', 'NodePort'] },
            clusterIP: 'string',
            publishNotReadyAddresses: 'boolean',
            externalTrafficPolicy: { enum: ['Local', 'Cluster'] },
            selector: stringMap,
            ports: arr(
              obj(
                {
                  name: 'port-name',
                  port: 'port',
                  targetPort: 'int-or-string',
                  protocol: { enum: ['TCP', 'UDP'] },
                },
                ['name', 'port'],
              ),
              1,
            ),
          },
          ['selector', 'ports'],
        ),
      },
      ['spec'],
    ),
  },
  Deployment: {
    apiVersion: 'apps/v1',
    schema: top(
      {
        spec: obj(
          {
            replicas: 'integer',
            selector: labelSelector,
            template: podTemplate,
            strategy: obj({
              type: { enum: ['RollingUpdate', 'Recreate'] },
              rollingUpdate: obj({ maxUnavailable: 'int-or-string', maxSurge: 'int-or-string' }),
            }),
          },
          ['selector', 'template'],
        ),
      },
      ['spec'],
    ),
  },
  StatefulSet: {
    apiVersion: 'apps/v1',
    schema: top(
      {
        spec: obj(
          {
            serviceName: 'dns-label',
            replicas: 'integer',
            podManagementPolicy: { enum: ['OrderedReady', 'Parallel'] },
            selector: labelSelector,
            template: podTemplate,
            volumeClaimTemplates: arr(volumeClaim),
          },
          ['serviceName', 'selector', 'template'],
        ),
      },
      ['spec'],
    ),
  },
  HorizontalPodAutoscaler: {
    apiVersion: 'autoscaling/v2',
    schema: top(
      {
        spec: obj(
          {
            scaleTargetRef: obj({ apiVersion: 'string', kind: 'string', name: 'dns-label' }, [
              'apiVersion',
              'kind',
              'name',
            ]),
            minReplicas: 'integer',
            maxReplicas: 'integer',
            metrics: arr(
              obj(
                {
                  type: { enum: ['Resource'] },
                  resource: obj(
                    {
                      name: { enum: ['cpu', 'memory'] },
                      target: obj(
                        {
                          type: { enum: ['Utilization', 'AverageValue'] },
                          averageUtilization: 'integer',
                          averageValue: 'quantity',
                        },
                        ['type'],
                      ),
                    },
                    ['name', 'target'],
                  ),
                },
                ['type', 'resource'],
              ),
              1,
            ),
            behavior: obj({ scaleUp: scalingRules, scaleDown: scalingRules }),
          },
          ['scaleTargetRef', 'maxReplicas', 'metrics'],
        ),
      },
      ['spec'],
    ),
  },
  PodDisruptionBudget: {
    apiVersion: 'policy/v1',
    schema: top(
      {
        spec: obj(
          { minAvailable: 'int-or-string', maxUnavailable: 'int-or-string', selector: labelSelector },
          ['selector'],
          ['minAvailable', 'maxUnavailable'],
        ),
      },
      ['spec'],
    ),
  },
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Problems of `value` against `schema`, each naming where ("booking.yaml StatefulSet/booking: spec.replicas ..."). */
function validate(value: unknown, schema: Schema, where: string): string[] {
  const bad = (what: string): string[] => [`${where}: ${what} (got ${JSON.stringify(value)})`];
  if (typeof schema === 'string') {
    switch (schema) {
      case 'string':
        return typeof value === 'string' ? [] : bad('must be a string');
      case 'integer':
        return Number.isInteger(value) ? [] : bad('must be an integer');
      case 'boolean':
        return typeof value === 'boolean' ? [] : bad('must be true or false');
      case 'port':
        return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
          ? []
          : bad('must be a port number');
      case 'int-or-string':
        return Number.isInteger(value) || typeof value === 'string' ? [] : bad('must be a number or a name');
      case 'cpu':
        return typeof value === 'string' && /^(\d+m|\d+(\.\d+)?)$/.test(value)
          ? []
          : bad('must be a CPU quantity as a string (250m, 1)');
      case 'quantity':
        return typeof value === 'string' && /^\d+(Ki|Mi|Gi|Ti)?$/.test(value)
          ? []
          : bad('must be a quantity (128Mi, 5Gi)');
      case 'dns-label':
        return typeof value === 'string' && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)
          ? []
          : bad('must be a DNS-1123 label');
      case 'port-name':
        return typeof value === 'string' && /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(value)
          ? []
          : bad('must be a port name (at most 15 lowercase letters, digits and -)');
      case 'env-name':
        return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
          ? []
          : bad('must be an environment variable name');
    }
  }
  if ('enum' in schema)
    return schema.enum.includes(value as never) ? [] : bad(`must be one of ${schema.enum}`);
  if ('array' in schema) {
    if (!Array.isArray(value)) return bad('must be a list');
    if (value.length < (schema.min ?? 0)) return bad(`must have at least ${schema.min} item(s)`);
    return value.flatMap((item, i) => validate(item, schema.array, `${where}[${i}]`));
  }
  if (!isRecord(value)) return bad('must be a mapping');
  if ('map' in schema)
    return Object.entries(value).flatMap(([key, item]) => validate(item, schema.map, `${where}.${key}`));
  const problems: string[] = [];
  for (const key of schema.required ?? [])
    if (value[key] === undefined) problems.push(`${where}: ${key} is required`);
  for (const [key, item] of Object.entries(value)) {
    const field = schema.object[key];
    if (field === undefined) problems.push(`${where}: unknown field ${key}`);
    else problems.push(...validate(item, field, `${where}.${key}`));
  }
  if (schema.exactlyOne) {
    const present = schema.exactlyOne.filter((key) => value[key] !== undefined);
    if (present.length !== 1)
      problems.push(
        `${where}: exactly one of ${schema.exactlyOne.join(', ')} (got ${present.join(', ') || 'none'})`,
      );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// The manifests, typed for the checks below once their shape is validated.

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  exec?: { command: string[] };
  grpc?: { port: number; service?: string };
  httpGet?: { path?: string; port: number | string };
  tcpSocket?: { port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  restartPolicy?: string;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: object }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  shareProcessNamespace?: boolean;
}
interface Workload {
  apiVersion: string;
  kind: 'Deployment' | 'StatefulSet';
  metadata: Meta;
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
    strategy?: { type?: string };
  };
}
interface ServicePort {
  name: string;
  port: number;
  targetPort?: number | string;
}
interface Service {
  kind: 'Service';
  metadata: Meta;
  spec: {
    type?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    externalTrafficPolicy?: string;
    selector: Record<string, string>;
    ports: ServicePort[];
  };
}
interface Hpa {
  metadata: Meta;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics: { resource: { name: string; target: { type: string; averageUtilization?: number } } }[];
  };
}
interface Pdb {
  metadata: Meta;
  spec: { minAvailable?: number | string; selector: { matchLabels: Record<string, string> } };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Loaded {
  file: string;
  object: K8sObject;
}

const kustomization = parse(read(`${K8S}/kustomization.yaml`)) as {
  namespace?: string;
  resources?: string[];
};
const resources = kustomization.resources ?? [];

function loadManifests(): { loaded: Loaded[]; parseErrors: string[] } {
  const loaded: Loaded[] = [];
  const parseErrors: string[] = [];
  for (const file of resources) {
    for (const doc of parseAllDocuments(read(`${K8S}/${file}`))) {
      parseErrors.push(...doc.errors.map((error) => `${file}: ${error.message}`));
      const object: unknown = doc.toJS();
      if (object !== null && object !== undefined) loaded.push({ file, object: object as K8sObject });
    }
  }
  return { loaded, parseErrors };
}

const { loaded, parseErrors } = loadManifests();
const objects = loaded.map(({ object }) => object);
const ofKind = <T>(kind: string): T[] => objects.filter((o) => o.kind === kind) as unknown as T[];
const workloads = objects.filter(
  (o): o is K8sObject & Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet',
) as Workload[];
const services = ofKind<Service>('Service');
const secrets = ofKind<K8sObject>('Secret');
const configMaps = ofKind<K8sObject>('ConfigMap');

const label = (w: Workload): string => `${w.kind}/${w.metadata.name}`;
const podContainers = (w: Workload): Container[] => [
  ...(w.spec.template.spec.initContainers ?? []),
  ...w.spec.template.spec.containers,
];
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
const selectedBy = (service: Service): Workload[] =>
  workloads.filter((w) => selects(service.spec.selector, w.spec.template.metadata.labels));
const workload = (kind: Workload['kind'], name: string): Workload => {
  const found = workloads.find((w) => w.kind === kind && w.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${K8S}`);
  return found;
};
const service = (name: string): Service => {
  const found = services.find((s) => s.metadata.name === name);
  if (!found) throw new Error(`no Service ${name} in ${K8S}`);
  return found;
};

/** The container port `ref` (a name or a number) on one of the workload's containers. */
function containerPort(w: Workload, ref: number | string): ContainerPort | undefined {
  return podContainers(w)
    .flatMap((c) => c.ports ?? [])
    .find((p) => (typeof ref === 'number' ? p.containerPort === ref : p.name === ref));
}

/** What a Service port reaches on each workload it selects (a problem text when it reaches nothing). */
function serviceTarget(svc: Service, port: number): string | undefined {
  const entry = svc.spec.ports.find((p) => p.port === port);
  if (!entry) return `Service ${svc.metadata.name} has no port ${port}`;
  const selected = selectedBy(svc);
  if (selected.length === 0) return `Service ${svc.metadata.name} selects no workload`;
  for (const w of selected)
    if (!containerPort(w, entry.targetPort ?? entry.port))
      return `Service ${svc.metadata.name} port ${port} → ${entry.targetPort ?? entry.port}: no such port on ${label(w)}`;
  return undefined;
}

/** Resolves host:port as a pod in `from` would; a problem text when nothing there serves it. */
function resolveAddress(host: string, port: number, from: Workload): string | undefined {
  if (host === '127.0.0.1' || host === 'localhost')
    return containerPort(from, port)
      ? undefined
      : `${host}:${port}: no container of ${label(from)} has port ${port}`;
  const [first, governing, ...rest] = host.split('.');
  if (governing !== undefined) {
    // <statefulset>-<ordinal>.<headless service>: one pod, by its stable name.
    if (rest.length > 0) return `${host}: use short names inside the namespace`;
    const svc = services.find((s) => s.metadata.name === governing);
    const match = /^(.+)-(\d+)$/.exec(first ?? '');
    const set = workloads.find((w) => w.kind === 'StatefulSet' && w.metadata.name === match?.[1]);
    if (!svc || !set || set.spec.serviceName !== governing || svc.spec.clusterIP !== 'None')
      return `${host}: not <statefulset>-<ordinal>.<its headless service>`;
    if (Number(match![2]) >= (set.spec.replicas ?? 1)) return `${host}: ${label(set)} has no such ordinal`;
    return serviceTarget(svc, port);
  }
  const svc = services.find((s) => s.metadata.name === host);
  return svc ? serviceTarget(svc, port) : `${host}:${port}: no Service ${host}`;
}

/** host:port pairs in an env value or argument (lists, URLs with credentials, bare addresses). */
function addresses(value: string): { host: string; port: number }[] {
  return [...value.matchAll(/(?<=^|[=,@/])([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?):(\d{1,5})(?=$|[,/?])/g)].map(
    (match) => ({ host: match[1]!, port: Number(match[2]) }),
  );
}

/** A Secret's value, as the container will see it. */
function secretValue(name: string, key: string): string | undefined {
  const secret = secrets.find((s) => s.metadata.name === name);
  const encoded = secret?.data?.[key];
  return (
    secret?.stringData?.[key] ??
    (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString())
  );
}

/** A container's environment as Kubernetes builds it: secrets read, $(VAR) expanded from earlier entries. */
function environment(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of c.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    const value = ref ? secretValue(ref.name, ref.key) : entry.value;
    // A missing secret is left unset (the secret check names it; loadConfig then refuses it too).
    if (value === undefined) continue;
    env[entry.name] = value.replace(
      /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
      (whole, name: string) => env[name] ?? whole,
    );
  }
  return env;
}

/** The image's own environment (deploy/Dockerfile `ENV NAME=value` without substitutions): NODE_ENV. */
const imageEnv: Record<string, string> = Object.fromEntries(
  [...read('deploy/Dockerfile').matchAll(/^ENV (\w+)=([^\s$]+)$/gm)].map((m) => [m[1]!, m[2]!]),
);
const imageCommand = JSON.parse(/^CMD (\[.*\])$/m.exec(read('deploy/Dockerfile'))?.[1] ?? '[]') as string[];

/** Every container running the Marquee image, with the service it runs (its MARQUEE_SERVICE). */
const marquee = workloads.flatMap((w) =>
  w.spec.template.spec.containers
    .filter((c) => c.image === 'marquee:latest')
    .map((c) => ({
      w,
      c,
      service: (c.env ?? []).find((e) => e.name === 'MARQUEE_SERVICE')?.value as ServiceName,
    })),
);
const marqueeCase = marquee.map((m) => [`${label(m.w)} (${m.c.name})`, m] as const);

const LOADERS: Readonly<
  Record<ServiceName, (env: Record<string, string>) => { host: string; port: number }>
> = {
  catalog: loadCatalogConfig,
  booking: loadBookingConfig,
  recommendation: loadRecommendationConfig,
  gateway: loadGatewayConfig,
};

/**
 * Runs a container's entry point (its command, or the image's CMD) as the pod `hostname` would, with
 * a stand-in `node` that prints the node id it was given and its arguments instead of starting.
 */
function entryPoint(
  c: Container,
  env: Record<string, string>,
  hostname: string,
): { nodeId: string; argv: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-k8s-entry-'));
  try {
    writeFileSync(path.join(dir, 'node'), '#!/bin/sh\nprintf \'%s\\n\' "${MARQUEE_NODE_ID-}" "$@"\n');
    chmodSync(path.join(dir, 'node'), 0o755);
    const [file, ...args] = c.command ?? imageCommand;
    const out = execFileSync(file!, args, {
      env: { ...env, HOSTNAME: hostname, PATH: `${dir}:/usr/bin:/bin` },
      encoding: 'utf8',
      stdio: 'pipe',
    });
    const [nodeId = '', ...argv] = out.trimEnd().split('\n');
    return { nodeId, argv };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function probes(c: Container): Probe[] {
  return [c.startupProbe, c.readinessProbe, c.livenessProbe].filter((p): p is Probe => p !== undefined);
}

// nginx.conf helpers (the same reading as test/deploy-static.test.ts).
function locations(conf: string): string[] {
  return [...conf.matchAll(/location\s+(\S+)\s*\{/g)].map((match) => match[1]!).sort();
}
function upstreamNames(conf: string): string[] {
  return [...conf.matchAll(/^\s*upstream (\S+) \{/gm)].map((match) => match[1]!).sort();
}
function upstreamServers(conf: string, name: string): string[] {
  const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+(\S+?)[\s;]/gm)].map((match) => match[1]!);
}
/** The configuration less its opening comment and its upstream blocks (with the comments above them). */
function withoutUpstreams(conf: string): string {
  return conf
    .replace(/^(#[^\n]*\n)+/, '')
    .replace(/^((?: {2}#[^\n]*\n)*) {2}upstream \S+ \{[^}]*\}\n\n?/gm, '');
}

const nginxConf = configMaps.find((c) => c.metadata.name === 'nginx')?.data?.['nginx.conf'] ?? '';
const composeConf = read('deploy/nginx.compose.conf');

// ---------------------------------------------------------------------------------------------------

describe('deploy/k8s', () => {
  it('lists every manifest in kustomization.yaml, and every file parses as YAML documents', () => {
    const files = readdirSync(path.join(root, K8S))
      .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
      .sort();
    expect([...resources].sort()).toEqual(files);
    expect(parseErrors).toEqual([]);
    expect(objects.length).toBeGreaterThan(0);
    expect(kustomization.namespace).toBe(KUBERNETES_DEFAULTS.namespace);
  });

  it('every object has apiVersion, kind and metadata.name and fits the shape of its kind', () => {
    const problems = loaded.flatMap(({ file, object }) => {
      const where = `${file} ${object.kind}/${object.metadata?.name}`;
      const kind = KINDS[object.kind];
      if (!kind) return [`${where}: kind ${object.kind} is not one this test knows`];
      return [
        ...(object.apiVersion === kind.apiVersion ? [] : [`${where}: apiVersion must be ${kind.apiVersion}`]),
        ...validate(object, kind.schema, where),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('names are unique per kind, no object hard-codes a namespace, and all are labelled part-of marquee', () => {
    const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
    expect(objects.filter((o) => o.metadata.namespace !== undefined).map((o) => o.metadata.name)).toEqual([]);
    expect(
      objects
        .filter((o) => o.metadata.labels?.['app.kubernetes.io/part-of'] !== 'marquee')
        .map((o) => o.metadata.name),
    ).toEqual([]);
    // The namespace kustomize puts everything in exists.
    expect(ofKind<K8sObject>('Namespace').map((n) => n.metadata.name)).toEqual([kustomization.namespace]);
  });

  it("every workload's selector selects its own pods, and every Service selects the pods of exactly one workload", () => {
    for (const w of workloads)
      expect({
        w: label(w),
        own: selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels),
      }).toEqual({
        w: label(w),
        own: true,
      });
    // No two workloads' pods look alike to a selector.
    for (const w of workloads)
      expect(
        workloads.filter((other) =>
          selects(w.spec.selector.matchLabels, other.spec.template.metadata.labels),
        ),
      ).toEqual([w]);
    for (const svc of services)
      expect({ service: svc.metadata.name, selects: selectedBy(svc).map(label) }).toEqual({
        service: svc.metadata.name,
        selects: [expect.any(String)],
      });
  });

  it('every Service port targets a port the selected containers declare, and container port names are unique', () => {
    const problems = services.flatMap((svc) =>
      svc.spec.ports.map((p) => serviceTarget(svc, p.port)).filter((p): p is string => p !== undefined),
    );
    expect(problems).toEqual([]);
    for (const w of workloads) {
      const named = podContainers(w).flatMap((c) => (c.ports ?? []).flatMap((p) => (p.name ? [p.name] : [])));
      expect({ w: label(w), duplicates: named.filter((n, i) => named.indexOf(n) !== i) }).toEqual({
        w: label(w),
        duplicates: [],
      });
    }
  });

  it('every probe asks a port its own container declares', () => {
    const problems = workloads.flatMap((w) =>
      podContainers(w).flatMap((c) =>
        probes(c).flatMap((p) => {
          const ref = p.grpc?.port ?? p.httpGet?.port ?? p.tcpSocket?.port;
          if (ref === undefined) return [];
          const found = (c.ports ?? []).some((port) =>
            typeof ref === 'number' ? port.containerPort === ref : port.name === ref,
          );
          return found ? [] : [`${label(w)} ${c.name}: probe port ${ref} is not a port of the container`];
        }),
      ),
    );
    expect(problems).toEqual([]);
  });

  it('every address in an env value or argument names a Service, a StatefulSet pod or its own pod, on a port served there', () => {
    const problems = workloads.flatMap((w) =>
      podContainers(w).flatMap((c) => {
        // In arguments, an IP literal is where a program listens (0.0.0.0:2379), not where it connects.
        const argAddresses = [...(c.args ?? []), ...(c.command ?? [])]
          .flatMap(addresses)
          .filter(({ host }) => !/^\d+(\.\d+){3}$/.test(host));
        return [...Object.values(environment(c)).flatMap(addresses), ...argAddresses]
          .map(({ host, port }) => resolveAddress(host, port, w))
          .filter((p): p is string => p !== undefined)
          .map((p) => `${label(w)} ${c.name}: ${p}`);
      }),
    );
    expect(problems).toEqual([]);
    // The check itself finds what it should.
    expect(addresses('1=booking-0.booking:50081,2=booking-1.booking:50081')).toHaveLength(2);
    expect(addresses('mysql://root:pw@127.0.0.1:3306')).toEqual([{ host: '127.0.0.1', port: 3306 }]);
    expect(resolveAddress('booking-3.booking', 50071, workload('Deployment', 'gateway'))).toMatch(
      /no such ordinal/,
    );
    expect(resolveAddress('catalog', 50062, workload('Deployment', 'gateway'))).toMatch(/no port 50062/);
  });

  it('every secret, ConfigMap and volume a pod refers to exists', () => {
    const problems: string[] = [];
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      const volumes = new Set([
        ...(pod.volumes ?? []).map((v) => v.name),
        ...(w.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name),
      ]);
      for (const v of pod.volumes ?? [])
        if (v.configMap && !configMaps.some((c) => c.metadata.name === v.configMap!.name))
          problems.push(`${label(w)}: no ConfigMap ${v.configMap.name}`);
      for (const c of podContainers(w)) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && secretValue(ref.name, ref.key) === undefined)
            problems.push(
              `${label(w)} ${c.name}: ${e.name} names secret ${ref.name} key ${ref.key}, which does not exist`,
            );
        }
        for (const m of c.volumeMounts ?? []) {
          if (!volumes.has(m.name)) problems.push(`${label(w)} ${c.name}: no volume ${m.name}`);
          const cm = (pod.volumes ?? []).find((v) => v.name === m.name)?.configMap;
          const data = configMaps.find((x) => x.metadata.name === cm?.name)?.data ?? {};
          if (cm && m.subPath !== undefined && !(m.subPath in data))
            problems.push(`${label(w)} ${c.name}: ConfigMap ${cm.name} has no key ${m.subPath}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every container runs as a non-root user without privilege escalation or capabilities, with CPU and memory requests and limits', () => {
    const problems = workloads.flatMap((w) => {
      const pod = w.spec.template.spec;
      return podContainers(w).flatMap((c) => {
        const where = `${label(w)} ${c.name}`;
        const found: string[] = [];
        const user = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        if ((c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true)
          found.push(`${where}: runAsNonRoot`);
        if (user === 0) found.push(`${where}: runs as root`);
        if (c.securityContext?.allowPrivilegeEscalation !== false)
          found.push(`${where}: allowPrivilegeEscalation`);
        if (!c.securityContext?.capabilities?.drop?.includes('ALL'))
          found.push(`${where}: capabilities not dropped`);
        for (const kind of ['requests', 'limits'] as const)
          for (const resource of ['cpu', 'memory'])
            if (!c.resources?.[kind]?.[resource]) found.push(`${where}: no ${resource} ${kind}`);
        return found;
      });
    });
    expect(problems).toEqual([]);
  });

  it('runs each service once from the one image, its entry point picked by MARQUEE_SERVICE as the Dockerfile does', () => {
    expect(marquee.map((m) => m.service).sort()).toEqual([...SERVICES].sort());
    for (const { w, c, service: name } of marquee) {
      const { argv } = entryPoint(c, { ...imageEnv, ...environment(c) }, `${w.metadata.name}-0`);
      expect(argv).toEqual(['--import', 'tsx', `services/${name}/main.ts`]);
      expect(existsSync(path.join(root, argv[2]!))).toBe(true);
    }
    // The wait-for-database init containers run the same image (node, no tsx needed).
    for (const w of workloads)
      for (const c of w.spec.template.spec.initContainers ?? [])
        if (c.restartPolicy !== 'Always')
          expect({ c: c.name, image: c.image }).toEqual({ c: c.name, image: 'marquee:latest' });
  });

  it.each(marqueeCase)(
    '%s sets only variables its loadConfig reads (and helpers that build another value)',
    (_, m) => {
      const known = new Set([...configVariables(m.service), ...imageVariables()]);
      const env = m.c.env ?? [];
      const unknown = env
        .map((e) => e.name)
        .filter((name) => {
          if (known.has(name)) return false;
          // A helper such as DB_PASSWORD: not a Marquee variable, used only inside another value.
          const helper = !name.startsWith('MARQUEE_') && env.some((e) => e.value?.includes(`$(${name})`));
          return !helper;
        });
      expect(unknown).toEqual([]);
      // The node id comes from the pod ordinal (the command), never from a fixed value.
      expect(env.map((e) => e.name)).not.toContain('MARQUEE_NODE_ID');
    },
  );

  it.each(marqueeCase)(
    '%s: its settings parse with its own loadConfig, and it listens where its Services and probes look',
    (_, { w, c, service: name }) => {
      const env = { ...imageEnv, ...environment(c) };
      const ordinals = w.kind === 'StatefulSet' ? [...Array(w.spec.replicas ?? 1).keys()] : [0];
      for (const ordinal of ordinals) {
        const { nodeId } = entryPoint(c, env, `${w.metadata.name}-${ordinal}`);
        const config = LOADERS[name]({ ...env, ...(nodeId ? { MARQUEE_NODE_ID: nodeId } : {}) });
        expect(config.host).toBe('0.0.0.0');
        // Every probe of a gRPC service asks the port it serves; the gateway's asks its HTTP port.
        const probed = probes(c).map((p) => p.grpc?.port ?? p.httpGet?.port);
        expect(probed.length).toBeGreaterThanOrEqual(2);
        for (const port of probed) expect(containerPort(w, port!)?.containerPort).toBe(config.port);
        // Some Service reaches it there.
        expect(
          services.some(
            (s) =>
              selectedBy(s).includes(w) &&
              s.spec.ports.some(
                (p) => containerPort(w, p.targetPort ?? p.port)?.containerPort === config.port,
              ),
          ),
        ).toBe(true);
      }
      if (name === 'gateway') for (const p of probes(c)) expect(p.httpGet?.path).toBe('/api/health');
      else for (const p of probes(c)) expect(p.grpc).toBeDefined();
    },
  );

  it('ports agree with the services’ defaults (DESIGN.md, scripts/lib/nginx.ts) and with docker-compose.yml', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; ports?: string[] }>;
    };
    const port = (kind: Workload['kind'], name: string, ref: string): number | undefined =>
      containerPort(workload(kind, name), ref)?.containerPort;
    expect(port('Deployment', 'catalog', 'grpc')).toBe(loadCatalogConfig({}).port);
    expect(port('Deployment', 'catalog', 'grpc')).toBe(DEFAULT_PORTS.catalog);
    expect(port('StatefulSet', 'booking', 'client')).toBe(DEFAULT_PORTS.booking[0]);
    expect(port('StatefulSet', 'booking', 'client')).toBe(
      Number(compose.services['booking-1']?.environment?.MARQUEE_BOOKING_PORT),
    );
    expect(port('StatefulSet', 'booking', 'peer')).toBe(DEFAULT_PEER_PORTS[0]);
    expect(nodeList(compose.services['booking-1']?.environment?.MARQUEE_PEERS)[0]?.[1]).toBe(
      `booking-1:${port('StatefulSet', 'booking', 'peer')}`,
    );
    expect(port('Deployment', 'recommendation', 'grpc')).toBe(DEFAULT_PORTS.recommendation);
    expect(port('Deployment', 'gateway', 'http')).toBe(DEFAULT_PORTS.gateway[0]);
    expect(port('Deployment', 'gateway', 'http')).toBe(
      Number(compose.services['gateway-1']?.environment?.MARQUEE_GATEWAY_PORT),
    );
    expect(port('StatefulSet', 'etcd', 'client')).toBe(2379);
    // The front door publishes what Compose publishes.
    const front = service('nginx').spec.ports.map(
      (p) =>
        `${p.port}:${containerPort(workload('Deployment', 'nginx'), p.targetPort ?? p.port)?.containerPort}`,
    );
    expect(front.sort()).toEqual([...(compose.services.nginx?.ports ?? [])].sort());
    expect(front.sort()).toEqual(
      [`${DEFAULT_PORTS.grpc}:${DEFAULT_PORTS.grpc}`, `${DEFAULT_PORTS.http}:${DEFAULT_PORTS.http}`].sort(),
    );
  });
});

describe('deploy/k8s booking group', () => {
  const set = workload('StatefulSet', 'booking');
  const pod = set.spec.template.spec;
  const node = pod.containers.find((c) => c.name === KUBERNETES_DEFAULTS.container)!;
  const env = { ...imageEnv, ...environment(node) };

  it('is a StatefulSet of 3 whose pod booking-N runs node N+1, listing all three by their stable DNS names', () => {
    expect(set.spec.replicas).toBe(3);
    expect(set.metadata.name).toBe(KUBERNETES_DEFAULTS.statefulSet);
    const peerPort = containerPort(set, 'peer')!.containerPort;
    const clientPort = containerPort(set, 'client')!.containerPort;
    const pods = [0, 1, 2].map((ordinal) => `${set.metadata.name}-${ordinal}.${set.spec.serviceName}`);
    for (const ordinal of [0, 1, 2]) {
      const { nodeId, argv } = entryPoint(node, env, `booking-${ordinal}`);
      expect({ nodeId, argv }).toEqual({
        nodeId: String(ordinal + 1),
        argv: ['--import', 'tsx', 'services/booking/main.ts'],
      });
      const config = loadBookingConfig({ ...env, MARQUEE_NODE_ID: nodeId });
      expect(config.nodeId).toBe(ordinal + 1);
      expect([...config.cluster!.peers]).toEqual(pods.map((host, i) => [i + 1, `${host}:${peerPort}`]));
      expect([...config.cluster!.clientAddresses!]).toEqual(
        pods.map((host, i) => [i + 1, `${host}:${clientPort}`]),
      );
      // Its peer server binds its own entry: its own pod's name.
      expect(config.cluster!.peerHost).toBe(pods[ordinal]);
      expect(config.cluster!.peerPort).toBe(peerPort);
      expect(config.port).toBe(clientPort);
    }
    // A hostname without an ordinal stops the container instead of guessing an id.
    expect(() => entryPoint(node, env, 'booking')).toThrow(/no pod ordinal/);
    // The gateway and the recommendation service list the same group.
    for (const name of ['gateway', 'recommendation']) {
      const c = workload('Deployment', name).spec.template.spec.containers[0]!;
      expect(environment(c).MARQUEE_BOOKING_ADDRS).toBe(env.MARQUEE_BOOKING_ADDRS);
      if (name === 'gateway') expect(environment(c).MARQUEE_PEERS).toBe(env.MARQUEE_PEERS);
    }
  });

  it('its headless Service gives every pod its DNS name before it is ready (peers must find each other to elect)', () => {
    const headless = service(set.spec.serviceName!);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(selectedBy(headless)).toEqual([set]);
    expect(headless.spec.ports.map((p) => p.targetPort).sort()).toEqual(['client', 'metrics', 'peer']);
  });

  it('each pod has its own MariaDB: a sidecar on 127.0.0.1 with its own volume claim, started before the node', () => {
    const mariadb = (pod.initContainers ?? []).find((c) => c.image.startsWith('mariadb:'));
    expect(mariadb?.restartPolicy).toBe('Always');
    expect(mariadb?.startupProbe?.exec?.command).toEqual([
      'healthcheck.sh',
      '--connect',
      '--innodb_initialized',
    ]);
    const claims = (set.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name);
    const dbMount = mariadb?.volumeMounts?.find((m) => m.mountPath === '/var/lib/mysql');
    expect(claims).toContain(dbMount?.name);
    const url = new URL(env.MARQUEE_MYSQL_URL!);
    expect(url.hostname).toBe('127.0.0.1');
    expect(containerPort(set, Number(url.port))).toBe(mariadb?.ports?.[0]);
    // Both sides use the one password from the Secret.
    expect(decodeURIComponent(url.password)).toBe(environment(mariadb!).MARIADB_ROOT_PASSWORD);
    // The election term and the Lamport clock live on the node's own claim, not in the container.
    const config = loadBookingConfig({ ...env, MARQUEE_NODE_ID: '1' });
    const stateMount = node.volumeMounts?.find((m) => m.mountPath === config.cluster!.stateDir);
    expect(claims).toContain(stateMount?.name);
    expect(path.dirname(config.lamportFile)).toBe(config.cluster!.stateDir);
  });

  it('takes its secrets from the Secret, reaches etcd for the fallback lease, and is probed with grpc.health.v1 on the client port', () => {
    for (const name of ['MARQUEE_CLUSTER_SECRET', 'MARQUEE_TOKEN_SECRET', 'MARQUEE_ADMIN_PASSWORD'])
      expect(node.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef?.name).toBe('marquee-secrets');
    // Every service that checks tokens checks them with the same secret.
    for (const m of marquee)
      if (configVariables(m.service).has('MARQUEE_TOKEN_SECRET'))
        expect(m.c.env?.find((e) => e.name === 'MARQUEE_TOKEN_SECRET')?.valueFrom?.secretKeyRef).toEqual({
          name: 'marquee-secrets',
          key: 'token-secret',
        });
    const config = loadBookingConfig({ ...env, MARQUEE_NODE_ID: '1' });
    expect(config.cluster!.etcd?.endpoints).toEqual(['http://etcd:2379']);
    expect(resolveAddress('etcd', 2379, set)).toBeUndefined();
    const client = containerPort(set, 'client')!.containerPort;
    for (const p of [node.startupProbe, node.readinessProbe, node.livenessProbe])
      expect(p?.grpc).toEqual({ port: client });
  });

  it('keeps a majority through voluntary disruptions, and lets the chaos scripts pause the node (shared process namespace)', () => {
    const pdb = ofKind<Pdb>('PodDisruptionBudget').find((p) =>
      selects(p.spec.selector.matchLabels, set.spec.template.metadata.labels),
    );
    expect(pdb?.spec.minAvailable).toBe(Math.floor((set.spec.replicas ?? 0) / 2) + 1);
    // PID 1 of a container ignores SIGSTOP from inside it; with a shared namespace the node is not PID 1.
    expect(pod.shareProcessNamespace).toBe(true);
    expect(podContainers(set).find((c) => c.name === KUBERNETES_DEFAULTS.container)).toBe(node);
    expect(
      service(KUBERNETES_DEFAULTS.frontDoorService).spec.ports.some(
        (p) => p.port === KUBERNETES_DEFAULTS.frontDoorPort,
      ),
    ).toBe(true);
  });
});

describe('deploy/k8s stateless services and databases', () => {
  it('catalog and recommendation each have their own MariaDB StatefulSet with a volume claim, waited for before they start', () => {
    for (const name of ['catalog', 'recommendation']) {
      const app = workload('Deployment', name);
      const c = app.spec.template.spec.containers[0]!;
      const url = new URL(environment(c).MARQUEE_MYSQL_URL!);
      expect(url.hostname).toBe(`${name}-db`);
      const db = workload('StatefulSet', `${name}-db`);
      expect(db.spec.replicas).toBe(1);
      expect(db.spec.template.spec.containers[0]?.image).toMatch(/^mariadb:/);
      const mount = db.spec.template.spec.containers[0]?.volumeMounts?.find(
        (m) => m.mountPath === '/var/lib/mysql',
      );
      expect((db.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name)).toContain(mount?.name);
      expect(resolveAddress(url.hostname, Number(url.port), app)).toBeUndefined();
      const wait = app.spec.template.spec.initContainers?.find((i) => i.name === 'wait-for-db');
      expect(wait?.command?.at(-1)).toBe(`${url.hostname}:${url.port}`);
    }
    // One follower of the change stream at a time.
    expect(workload('Deployment', 'recommendation').spec.strategy?.type).toBe('Recreate');
  });

  it('the gateway runs at least 2 replicas under a CPU HorizontalPodAutoscaler (autoscaling/v2) that targets it', () => {
    const hpas = ofKind<Hpa>('HorizontalPodAutoscaler');
    expect(hpas).toHaveLength(1);
    const hpa = hpas[0]!;
    const target = workload('Deployment', hpa.spec.scaleTargetRef.name);
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: target.apiVersion,
      kind: 'Deployment',
      name: 'gateway',
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas!);
    expect(target.spec.replicas).toBe(hpa.spec.minReplicas);
    expect(hpa.spec.metrics.map((m) => m.resource.name)).toEqual(['cpu']);
    // CPU utilization is measured against requests: every container of the target must have one.
    for (const c of podContainers(target)) expect(c.resources?.requests?.cpu).toBeDefined();
    // Nothing else is autoscaled: the booking group's size is its peer list.
    expect(hpas.map((h) => h.spec.scaleTargetRef.name)).toEqual(['gateway']);
  });
});

describe('deploy/k8s nginx', () => {
  it('routes the same locations as deploy/nginx.compose.conf, and is the same configuration but for the upstreams', () => {
    expect(nginxConf).not.toBe('');
    expect(locations(nginxConf)).toEqual(locations(composeConf));
    expect(upstreamNames(nginxConf)).toEqual(upstreamNames(composeConf));
    expect(withoutUpstreams(nginxConf)).toEqual(withoutUpstreams(composeConf));
  });

  it('sends each upstream to a Service on a port it serves', () => {
    const nginx = workload('Deployment', 'nginx');
    const expected: Record<string, string> = {
      catalog: 'catalog',
      recommendation: 'recommendation',
      booking: 'booking-client',
      gateway: 'gateway',
    };
    for (const [upstream, svc] of Object.entries(expected)) {
      const servers = upstreamServers(nginxConf, upstream);
      expect(servers.map((s) => s.split(':')[0])).toEqual([svc]);
      for (const server of servers) {
        const [host, port] = server.split(':');
        expect({ server, problem: resolveAddress(host!, Number(port), nginx) }).toEqual({
          server,
          problem: undefined,
        });
      }
    }
    // Booking through the Service that reaches every node's client port.
    expect(selectedBy(service('booking-client'))).toEqual([workload('StatefulSet', 'booking')]);
  });

  it('is mounted by the nginx Deployment, whose Service publishes the ports nginx listens on', () => {
    const nginx = workload('Deployment', 'nginx');
    const c = nginx.spec.template.spec.containers[0]!;
    const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/nginx/nginx.conf');
    expect(mount?.subPath).toBe('nginx.conf');
    expect(nginx.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name).toBe(
      'nginx',
    );
    const listens = [...nginxConf.matchAll(/^\s*listen (\d+)/gm)].map((m) => Number(m[1])).sort();
    expect((c.ports ?? []).map((p) => p.containerPort).sort()).toEqual(listens);
    const svc = service('nginx');
    expect(
      svc.spec.ports.map((p) => containerPort(nginx, p.targetPort ?? p.port)?.containerPort).sort(),
    ).toEqual(listens);
    // Client addresses reach nginx unchanged: its rate limit is per client address.
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
  });

  it('passes `nginx -t` (Service names read as 127.0.0.1)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-nginx-k8s-'));
    try {
      const conf = nginxConf
        .replace(/(server\s+)[a-z][\w-]*:/g, '$1127.0.0.1:')
        .replace('pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`)
        .replace(/\/dev\/std(out|err)/g, `${dir}/$1.log`)
        .replace(
          'http {',
          `http {\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join('\n')}`,
        );
      writeFileSync(path.join(dir, 'nginx.conf'), conf);
      const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((file) => existsSync(file)) ?? 'nginx';
      expect(() =>
        execFileSync(
          nginx,
          [
            '-t',
            '-q',
            '-p',
            `${dir}/`,
            '-c',
            path.join(dir, 'nginx.conf'),
            '-e',
            path.join(dir, 'error.log'),
          ],
          {
            stdio: 'pipe',
          },
        ),
      ).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// `kubectl kustomize` works offline; kubectl is not part of the project's setup, so this runs where
// it is installed and is skipped elsewhere.
const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((file) => existsSync(file));
(kubectl ? it : it.skip)(
  'kubectl kustomize builds the same objects, every namespaced one in the marquee namespace',
  () => {
    const built = parseAllDocuments(
      execFileSync(kubectl!, ['kustomize', path.join(root, K8S)], { encoding: 'utf8', stdio: 'pipe' }),
    ).map((doc) => doc.toJS() as K8sObject);
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    for (const o of built)
      if (o.kind !== 'Namespace')
        expect({ o: o.metadata.name, ns: o.metadata.namespace }).toEqual({
          o: o.metadata.name,
          ns: 'marquee',
        });
  },
);

describe('deploy/k8s against the official Kubernetes schemas (npm run check:k8s)', () => {
  const check = (dir: string): { code: number; output: string } => {
    try {
      const output = execFileSync(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'scripts/check-k8s.ts'), '--dir', dir],
        { cwd: root, encoding: 'utf8', stdio: 'pipe' },
      );
      return { code: 0, output };
    } catch (error) {
      const failed = error as { status?: number; stdout?: string };
      return { code: failed.status ?? -1, output: failed.stdout ?? '' };
    }
  };

  it('every object the kustomization lists is valid', () => {
    const { code, output } = check(path.join(root, K8S));
    expect(output).toBe(`k8s schema check: ${objects.length} objects valid against the Kubernetes schemas\n`);
    expect(code).toBe(0);
  });

  it('names the file, the object and the field of a manifest the schemas refuse', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-k8s-'));
    try {
      for (const file of readdirSync(path.join(root, K8S)))
        writeFileSync(path.join(dir, file), readFileSync(path.join(root, K8S, file), 'utf8'));
      const gateway = path.join(dir, 'gateway.yaml');
      writeFileSync(
        gateway,
        readFileSync(gateway, 'utf8').replace(/^(\s+)replicas: \d+$/m, '$1replicas: two'),
      );
      const { code, output } = check(dir);
      expect(code).toBe(1);
      expect(output).toContain('gateway.yaml: Deployment/gateway: data/spec/replicas must be integer');
      expect(output).toContain(`k8s schema check: 1 object(s) invalid, ${objects.length - 1} valid`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
