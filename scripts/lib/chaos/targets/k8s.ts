import net from 'node:net';
import { StackOpError } from '../../stack-control';
import type { NodeProcessState, StackNodeInfo } from '../../stack-control';
import { freePort } from '../../processes';
import { bookingLogFile } from '../logs';
import { pollUntil } from './health';
import { Supervised, runChecked } from './runner';
import type { CommandRunner } from './runner';
import type { NodeBackend, TargetDescription } from './target';

/*
 * The booking StatefulSet of deploy/k8s, faulted with kubectl. Pod booking-N is node N+1 (the
 * manifest derives MARQUEE_NODE_ID from the ordinal).
 *   kill      kubectl delete pod --grace-period=0 --force: the StatefulSet starts the pod again at
 *             once (with its volumes), so unlike locally the node does not stay down
 *   pause     kubectl exec ... kill -STOP <the node's pid> (then -CONT): the pod shares one process
 *             namespace, so the node is not PID 1 of its container (which ignores SIGSTOP from inside)
 *   restart   kubectl delete pod (graceful), then wait until the new pod is Ready
 *   partition a NetworkPolicy that denies the pod all ingress and egress; heal deletes it. Needs a
 *             network plugin that enforces NetworkPolicy (Calico, Cilium, ...); some let connections
 *             that were open before the policy live on. The pod still reaches its own MariaDB
 *             (same pod), and the port forwards below still reach it (they enter the pod directly).
 * Status and the workload reach every pod through `kubectl port-forward` (one per pod: client and
 * peer port), restarted whenever it ends (a deleted pod ends it); the front door through a port
 * forward to the nginx Service. Logs come from `kubectl logs --follow` into <logsDir>/booking-N.log
 * (<dataDir>/logs), for the timeline.
 */

/** Where the booking group lives in deploy/k8s (test/k8s-static.test.ts checks the manifests agree). */
export const KUBERNETES_DEFAULTS = Object.freeze({
  namespace: 'marquee',
  statefulSet: 'booking',
  container: 'booking',
  frontDoorService: 'nginx',
  frontDoorPort: 50050,
});

export interface KubernetesOptions {
  namespace?: string;
  /** The kubeconfig context; the current one when undefined. */
  context?: string;
  kubectl?: string;
  statefulSet?: string;
  container?: string;
  frontDoorService?: string;
  frontDoorPort?: number;
  /** A free local port for a port forward (tests pass a fake). */
  freePort?: () => Promise<number>;
  /** Whether a local port accepts connections yet (tests pass a fake). */
  listening?: (port: number) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** How long the port forwards may take to listen. */
  forwardTimeoutMs?: number;
  pollMs?: number;
  now?: () => Date;
}

/** The label every object this target creates carries, to find them again (and to clean up by hand). */
export const CHAOS_LABEL = 'app.kubernetes.io/managed-by=marquee-chaos';

export const policyName = (pod: string): string => `marquee-chaos-partition-${pod}`;

/** A NetworkPolicy that selects one pod and allows it nothing: no ingress, no egress. */
export function partitionPolicy(pod: string): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: policyName(pod),
      labels: { 'app.kubernetes.io/managed-by': 'marquee-chaos', 'marquee-chaos/partition': pod },
    },
    spec: {
      podSelector: { matchLabels: { 'statefulset.kubernetes.io/pod-name': pod } },
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

/**
 * A shell script (run in the node's container) that sends `signal` to the booking node's process,
 * found by its command line under /proc (the image has no pgrep). `mai[n]` keeps the script itself
 * and grep, whose command lines hold the pattern, from matching. `proc` is for the unit test.
 */
export function signalScript(signal: 'STOP' | 'CONT', proc = '/proc'): string {
  return [
    'found=',
    `for dir in ${proc}/[0-9]*; do`,
    `  if tr '\\0' ' ' < "$dir/cmdline" 2>/dev/null | grep -q 'services/booking/mai[n]\\.ts'; then`,
    `    kill -${signal} "\${dir##*/}" && found=1`,
    '  fi',
    'done',
    `[ -n "$found" ] || { echo 'no booking node process in this pod' >&2; exit 1; }`,
  ].join('\n');
}

/** Every argv this target runs, in one place (and in the unit tests). */
export function kubectlCommands(
  options: Pick<KubernetesOptions, 'namespace' | 'context' | 'kubectl' | 'container'>,
) {
  const base = [
    options.kubectl ?? 'kubectl',
    ...(options.context ? ['--context', options.context] : []),
    '--namespace',
    options.namespace ?? KUBERNETES_DEFAULTS.namespace,
  ];
  const container = options.container ?? KUBERNETES_DEFAULTS.container;
  return {
    statefulSet: (name: string) => [...base, 'get', 'statefulset', name, '--output', 'json'],
    pods: (selector: string) => [...base, 'get', 'pods', '--selector', selector, '--output', 'json'],
    pod: (pod: string) => [...base, 'get', 'pod', pod, '--output', 'json'],
    partitions: () => [...base, 'get', 'networkpolicy', '--selector', CHAOS_LABEL, '--output', 'json'],
    kill: (pod: string) => [...base, 'delete', 'pod', pod, '--grace-period=0', '--force', '--wait=false'],
    delete: (pod: string) => [...base, 'delete', 'pod', pod, '--wait=true'],
    signal: (pod: string, signal: 'STOP' | 'CONT') => [
      ...base,
      'exec',
      pod,
      '--container',
      container,
      '--',
      'sh',
      '-c',
      signalScript(signal),
    ],
    /** Reads the manifest from standard input: partitionPolicy(pod) as JSON. */
    partition: () => [...base, 'apply', '--filename', '-'],
    heal: (pod: string) => [...base, 'delete', 'networkpolicy', policyName(pod), '--ignore-not-found'],
    forwardPod: (pod: string, ports: readonly (readonly [local: number, remote: number])[]) => [
      ...base,
      'port-forward',
      '--address',
      '127.0.0.1',
      `pod/${pod}`,
      ...ports.map(([local, remote]) => `${local}:${remote}`),
    ],
    forwardService: (service: string, local: number, remote: number) => [
      ...base,
      'port-forward',
      '--address',
      '127.0.0.1',
      `service/${service}`,
      `${local}:${remote}`,
    ],
    logs: (pod: string, since: string) => [
      ...base,
      'logs',
      '--follow',
      pod,
      '--container',
      container,
      `--since-time=${since}`,
    ],
  };
}

interface PodJson {
  metadata: { name: string; uid?: string; deletionTimestamp?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; state?: { running?: object } }[];
  };
}

interface StatefulSetJson {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: {
      spec?: { containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
    };
  };
}

/** The booking StatefulSet's size, pod selector and the node container's client and peer ports. */
export function readStatefulSet(
  json: string,
  container: string,
): { replicas: number; selector: string; clientPort: number; peerPort: number } {
  const set = JSON.parse(json) as StatefulSetJson;
  const ports = set.spec?.template?.spec?.containers?.find((c) => c.name === container)?.ports ?? [];
  const port = (name: string, fallback: number): number =>
    ports.find((p) => p.name === name)?.containerPort ?? fallback;
  const labels = Object.entries(set.spec?.selector?.matchLabels ?? {});
  if (labels.length === 0) throw new Error('the booking StatefulSet has no selector.matchLabels');
  return {
    replicas: set.spec?.replicas ?? 1,
    selector: labels.map(([key, value]) => `${key}=${value}`).join(','),
    clientPort: port('client', 50071),
    peerPort: port('peer', 50081),
  };
}

/** A pod's process state as the control API names it: running while its node container runs. */
export function podState(pod: PodJson | undefined, container: string): NodeProcessState {
  if (!pod || pod.metadata.deletionTimestamp) return 'killed';
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  return pod.status?.phase === 'Running' && status?.state?.running ? 'running' : 'killed';
}

const isReady = (pod: PodJson): boolean =>
  !pod.metadata.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

interface Node {
  id: number;
  pod: string;
  clientLocal: number;
  peerLocal: number;
  state: NodeProcessState;
  paused: boolean;
  partitioned: boolean;
  uid: string | undefined;
}

export class KubernetesBackend implements NodeBackend {
  private readonly commands: ReturnType<typeof kubectlCommands>;
  private readonly byId = new Map<number, Node>();
  private readonly background: Supervised[] = [];
  private selector = '';
  private readonly container: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly options: KubernetesOptions = {},
  ) {
    this.commands = kubectlCommands(options);
    this.container = options.container ?? KUBERNETES_DEFAULTS.container;
  }

  async open(_dataDir: string, logsDir: string): Promise<TargetDescription> {
    const name = this.options.statefulSet ?? KUBERNETES_DEFAULTS.statefulSet;
    const set = readStatefulSet(
      await runChecked(this.runner, this.commands.statefulSet(name)),
      this.container,
    );
    this.selector = set.selector;
    const partitioned = await this.partitionedPods();
    const allocate = this.options.freePort ?? freePort;
    for (let ordinal = 0; ordinal < set.replicas; ordinal++) {
      const pod = `${name}-${ordinal}`;
      this.byId.set(ordinal + 1, {
        id: ordinal + 1,
        pod,
        clientLocal: await allocate(),
        peerLocal: await allocate(),
        state: 'killed',
        paused: false,
        partitioned: partitioned.has(pod),
        uid: undefined,
      });
    }
    await this.refresh();
    const now = this.options.now ?? (() => new Date());
    const since = now();
    for (const node of this.byId.values()) {
      this.keep(
        () =>
          this.commands.forwardPod(node.pod, [
            [node.clientLocal, set.clientPort],
            [node.peerLocal, set.peerPort],
          ]),
        {},
      );
      // A follower started again (the pod was replaced) goes on from where the last one ended.
      this.keep((lastExit) => this.commands.logs(node.pod, (lastExit ?? since).toISOString()), {
        outputFile: bookingLogFile(logsDir, node.id),
        backoffMs: 1000,
        now,
      });
    }
    const frontDoorLocal = await allocate();
    this.keep(
      () =>
        this.commands.forwardService(
          this.options.frontDoorService ?? KUBERNETES_DEFAULTS.frontDoorService,
          frontDoorLocal,
          this.options.frontDoorPort ?? KUBERNETES_DEFAULTS.frontDoorPort,
        ),
      {},
    );
    // The commands start at once; wait until the forwards listen (kubectl takes a moment to connect).
    const listening = this.options.listening ?? canConnect;
    const ports = [frontDoorLocal, ...[...this.byId.values()].flatMap((n) => [n.clientLocal, n.peerLocal])];
    const timeoutMs = this.options.forwardTimeoutMs ?? 15_000;
    for (const port of ports)
      if (!(await pollUntil(() => listening(port), timeoutMs, this.options.pollMs ?? 200)))
        throw new Error(
          `kubectl port-forward to 127.0.0.1:${port} did not start listening within ${timeoutMs} ms: is the cluster reachable and deploy/k8s applied?`,
        );
    const frontDoor = `127.0.0.1:${frontDoorLocal}`;
    return {
      grpcAddress: frontDoor,
      // The catalog is reached through the front door, as a client would.
      catalogAddress: frontDoor,
      recommendationAddress: frontDoor,
      // Not reachable from here: the soak (which needs them) runs against the local stack only.
      mysqlUrl: '',
      tokenSecret: '',
      adminEmail: '',
      adminPassword: '',
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.background.map((child) => child.stop()));
  }

  nodes(): StackNodeInfo[] {
    return [...this.byId.values()].map((node) => this.info(node));
  }

  async kill(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    await runChecked(this.runner, this.commands.kill(node.pod));
    node.paused = false;
    node.state = 'killed';
    node.uid = undefined;
    return this.info(node);
  }

  async pause(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.state !== 'running' || node.paused)
      throw new StackOpError(409, `node ${id} is ${this.info(node).state}: cannot pause it`);
    await runChecked(this.runner, this.commands.signal(node.pod, 'STOP'));
    node.paused = true;
    return this.info(node);
  }

  async resume(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (!node.paused) throw new StackOpError(409, `node ${id} is ${this.info(node).state}: cannot resume it`);
    await runChecked(this.runner, this.commands.signal(node.pod, 'CONT'));
    node.paused = false;
    return this.info(node);
  }

  async restart(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    // A stopped process cannot handle SIGTERM: let it go on first, then stop it gracefully.
    if (node.paused) await this.resume(id);
    const before = node.uid;
    await runChecked(this.runner, this.commands.delete(node.pod));
    const timeoutMs = this.options.readyTimeoutMs ?? 55_000;
    const ready = await pollUntil(
      async () => {
        const result = await this.runner.run(this.commands.pod(node.pod));
        if (result.code !== 0) return false;
        const pod = JSON.parse(result.stdout) as PodJson;
        return pod.metadata.uid !== before && isReady(pod);
      },
      timeoutMs,
      this.options.pollMs ?? 1000,
    );
    await this.refresh();
    if (!ready) throw new Error(`pod ${node.pod} was not Ready again within ${timeoutMs} ms`);
    return this.info(node);
  }

  async partition(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.partitioned) throw new StackOpError(409, `node ${id} is partitioned already`);
    await runChecked(this.runner, this.commands.partition(), {
      input: JSON.stringify(partitionPolicy(node.pod)),
    });
    node.partitioned = true;
    return this.info(node);
  }

  async heal(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    await runChecked(this.runner, this.commands.heal(node.pod));
    node.partitioned = false;
    return this.info(node);
  }

  private keep(
    argv: (lastExit: Date | undefined) => readonly string[],
    options: { outputFile?: string; backoffMs?: number; now?: () => Date },
  ): Supervised {
    const child = new Supervised(this.runner, argv, options);
    this.background.push(child);
    child.start();
    return child;
  }

  private node(id: number): Node {
    const node = this.byId.get(id);
    if (!node)
      throw new StackOpError(404, `no booking node ${id} (nodes: ${[...this.byId.keys()].join(', ')})`);
    return node;
  }

  /** Pods partitioned by an earlier run (their NetworkPolicy is still there). */
  private async partitionedPods(): Promise<Set<string>> {
    const list = JSON.parse(await runChecked(this.runner, this.commands.partitions())) as {
      items?: { metadata?: { labels?: Record<string, string> } }[];
    };
    return new Set(
      (list.items ?? []).flatMap((item) => item.metadata?.labels?.['marquee-chaos/partition'] ?? []),
    );
  }

  private async refresh(): Promise<void> {
    const list = JSON.parse(await runChecked(this.runner, this.commands.pods(this.selector))) as {
      items?: PodJson[];
    };
    for (const node of this.byId.values()) {
      const pod = (list.items ?? []).find((p) => p.metadata.name === node.pod);
      node.state = podState(pod, this.container);
      node.uid = pod?.metadata.uid;
      if (node.state !== 'running') node.paused = false;
    }
  }

  private info(node: Node): StackNodeInfo {
    return {
      id: node.id,
      pid: undefined,
      state: node.paused ? 'paused' : node.state,
      partitioned: node.partitioned,
      clientAddress: `127.0.0.1:${node.clientLocal}`,
      peerAddress: `127.0.0.1:${node.peerLocal}`,
      database: `${node.pod}: its mariadb sidecar`,
    };
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
