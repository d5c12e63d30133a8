import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { StackOpError } from '../../stack-control';
import type { NodeProcessState, StackNodeInfo } from '../../stack-control';
import { bookingLogFile } from '../logs';
import { isServing, pollUntil } from './health';
import { Relay } from './relay';
import type { Endpoint } from './relay';
import { Supervised, runChecked } from './runner';
import type { CommandRunner } from './runner';
import type { NodeBackend, TargetDescription } from './target';

/*
 * The booking group of docker-compose.yml, faulted with docker:
 *   kill      docker kill --signal KILL <container>      (it stays down, as locally)
 *   pause     docker pause / docker unpause              (the cgroup freezer: SIGSTOP for every process)
 *   restart   docker start (after a kill) or docker restart, then wait until it answers health SERVING
 *   partition docker network disconnect from each of its networks; heal reconnects it under its
 *             service name (other containers find it by that alias). Unlike the local stack's
 *             partition, this cuts the node off from everyone, the chaos observer included.
 * The nodes are found in `docker compose config` (services built with SERVICE=booking; id, client
 * and peer ports from their environment) and `docker compose ps`; their ports are not published, so
 * each gets two local relays to its container address (Linux: the host reaches container addresses;
 * Docker Desktop does not). The front door is nginx's published 50050. Logs come from `docker logs
 * --follow` into <logsDir>/booking-N.log (<dataDir>/logs), for the timeline.
 */

export interface ComposeOptions {
  /** The Compose file. */
  file: string;
  /** The Compose project name; Compose's own default (the file's directory) when undefined. */
  project?: string;
  /** How Compose is invoked. */
  compose?: readonly string[];
  docker?: string;
  /** Whether a node answers health SERVING at a client address (tests pass a fake). */
  serving?: (address: string) => Promise<boolean>;
  readyTimeoutMs?: number;
  pollMs?: number;
  /** The wall clock, for log followers' --since. */
  now?: () => Date;
}

/** A booking service of the Compose file. */
export interface ComposeBookingService {
  service: string;
  id: number;
  clientPort: number;
  peerPort: number;
}

/** What `docker inspect` says about one container (the part we use). */
export interface ContainerState {
  id: string;
  status: string;
  networks: { name: string; ip: string; aliases: string[] }[];
}

/** Every argv this target runs, in one place (and in the unit tests). */
export function composeCommands(options: Pick<ComposeOptions, 'file' | 'project' | 'compose' | 'docker'>) {
  const compose = [
    ...(options.compose ?? ['docker', 'compose']),
    '-f',
    options.file,
    ...(options.project ? ['-p', options.project] : []),
  ];
  const docker = options.docker ?? 'docker';
  return {
    config: () => [...compose, 'config'],
    containerId: (service: string) => [...compose, 'ps', '--all', '--quiet', service],
    inspect: (ids: readonly string[]) => [docker, 'inspect', ...ids],
    kill: (id: string) => [docker, 'kill', '--signal', 'KILL', id],
    pause: (id: string) => [docker, 'pause', id],
    unpause: (id: string) => [docker, 'unpause', id],
    start: (id: string) => [docker, 'start', id],
    restart: (id: string) => [docker, 'restart', '--time', '10', id],
    disconnect: (network: string, id: string) => [docker, 'network', 'disconnect', network, id],
    connect: (network: string, aliases: readonly string[], id: string) => [
      docker,
      'network',
      'connect',
      ...aliases.flatMap((alias) => ['--alias', alias]),
      network,
      id,
    ],
    logs: (id: string, since: string) => [docker, 'logs', '--follow', '--since', since, id],
  };
}

interface ConfigService {
  build?: { args?: Record<string, string> };
  environment?: Record<string, string | null>;
  ports?: (string | { target?: number | string; published?: number | string })[];
}

/** The booking services of `docker compose config` (or the Compose file): built with SERVICE=booking, by node id. */
export function bookingServices(configYaml: string): ComposeBookingService[] {
  // merge: the Compose file itself shares environment blocks through `<<: *anchor`.
  const config = parse(configYaml, { merge: true }) as { services?: Record<string, ConfigService> };
  return Object.entries(config.services ?? {})
    .filter(([, service]) => service.build?.args?.SERVICE === 'booking')
    .map(([name, service]) => {
      const env = service.environment ?? {};
      const id = Number(env.MARQUEE_NODE_ID ?? 1);
      const own = (env.MARQUEE_PEERS ?? '').split(',').find((entry) => entry.trim().startsWith(`${id}=`));
      return {
        service: name,
        id,
        clientPort: Number(env.MARQUEE_BOOKING_PORT ?? 50071),
        peerPort: Number(env.MARQUEE_PEER_PORT ?? own?.slice(own.lastIndexOf(':') + 1) ?? 50081),
      };
    })
    .sort((a, b) => a.id - b.id);
}

/** The host port nginx's gRPC front door (container port 50050) is published on. */
export function frontDoorPort(configYaml: string, containerPort = 50050): number | undefined {
  const config = parse(configYaml, { merge: true }) as { services?: Record<string, ConfigService> };
  for (const port of config.services?.nginx?.ports ?? []) {
    if (typeof port === 'string') {
      const [published, target] = port.split(':').slice(-2);
      if (Number(target) === containerPort) return Number(published);
    } else if (Number(port.target) === containerPort && port.published !== undefined) {
      return Number(port.published);
    }
  }
  return undefined;
}

/** `docker inspect` output → the state of each container. */
export function parseInspect(json: string): ContainerState[] {
  const containers = JSON.parse(json) as {
    Id: string;
    State?: { Status?: string };
    NetworkSettings?: { Networks?: Record<string, { IPAddress?: string; Aliases?: string[] | null }> };
  }[];
  return containers.map((c) => ({
    id: c.Id,
    status: c.State?.Status ?? 'unknown',
    networks: Object.entries(c.NetworkSettings?.Networks ?? {}).map(([name, network]) => ({
      name,
      ip: network.IPAddress ?? '',
      aliases: network.Aliases ?? [],
    })),
  }));
}

/** Docker's container status as the control API names process states. */
export function processState(status: string): NodeProcessState {
  if (status === 'running' || status === 'restarting') return 'running';
  if (status === 'paused') return 'paused';
  return 'killed';
}

interface Node extends ComposeBookingService {
  containerId: string;
  state: NodeProcessState;
  /** The networks it was cut off from (kept in <dataDir>/compose-partitions.json across runs). */
  cutFrom: { name: string; aliases: string[] }[] | undefined;
  ip: string | undefined;
  client: Relay | undefined;
  peer: Relay | undefined;
  logs: Supervised | undefined;
}

const PARTITIONS_FILE = 'compose-partitions.json';

export class ComposeBackend implements NodeBackend {
  private readonly commands: ReturnType<typeof composeCommands>;
  private readonly byId = new Map<number, Node>();
  private dataDir = '';

  constructor(
    private readonly runner: CommandRunner,
    private readonly options: ComposeOptions,
  ) {
    this.commands = composeCommands(options);
  }

  async open(dataDir: string, logsDir: string): Promise<TargetDescription> {
    this.dataDir = dataDir;
    let configYaml: string;
    try {
      configYaml = await runChecked(this.runner, this.commands.config());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${message}\n(the compose target needs Docker Compose v2, \`docker compose\`, and a running Docker engine)`,
      );
    }
    const services = bookingServices(configYaml);
    if (services.length === 0)
      throw new Error(`${this.options.file}: no service is built with SERVICE=booking`);
    const cut = this.readPartitions();
    for (const service of services) {
      const containerId = (await runChecked(this.runner, this.commands.containerId(service.service))).trim();
      if (!containerId)
        throw new Error(`no container for ${service.service}: is the stack up (docker compose up -d)?`);
      this.byId.set(service.id, {
        ...service,
        containerId,
        state: 'running',
        cutFrom: cut[service.id],
        ip: undefined,
        client: undefined,
        peer: undefined,
        logs: undefined,
      });
    }
    await this.refresh();
    const since = (this.options.now ?? (() => new Date()))();
    for (const node of this.byId.values()) {
      node.client = await Relay.start(() => this.endpoint(node, node.clientPort));
      node.peer = await Relay.start(() => this.endpoint(node, node.peerPort));
      // A follower started again (the container was killed) goes on from where the last one ended.
      node.logs = new Supervised(
        this.runner,
        (lastExit) => this.commands.logs(node.containerId, (lastExit ?? since).toISOString()),
        { outputFile: bookingLogFile(logsDir, node.id), backoffMs: 1000, now: this.options.now },
      );
      node.logs.start();
    }
    const published = frontDoorPort(configYaml);
    const frontDoor = published === undefined ? '' : `127.0.0.1:${published}`;
    return {
      grpcAddress: frontDoor,
      // The catalog is reached through the front door, as a client would.
      catalogAddress: frontDoor,
      recommendationAddress: frontDoor,
      // Not reachable from the host: the soak (which needs them) runs against the local stack only.
      mysqlUrl: '',
      tokenSecret: '',
      adminEmail: '',
      adminPassword: '',
    };
  }

  async close(): Promise<void> {
    for (const node of this.byId.values()) {
      await node.logs?.stop();
      await node.client?.close();
      await node.peer?.close();
    }
  }

  nodes(): StackNodeInfo[] {
    return [...this.byId.values()].map((node) => this.info(node));
  }

  async kill(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.state === 'killed') throw new StackOpError(409, `node ${id} is ${node.state}: cannot kill it`);
    await runChecked(this.runner, this.commands.kill(node.containerId));
    return this.afterOp(node);
  }

  async pause(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.state !== 'running') throw new StackOpError(409, `node ${id} is ${node.state}: cannot pause it`);
    await runChecked(this.runner, this.commands.pause(node.containerId));
    return this.afterOp(node);
  }

  async resume(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.state !== 'paused') throw new StackOpError(409, `node ${id} is ${node.state}: cannot resume it`);
    await runChecked(this.runner, this.commands.unpause(node.containerId));
    return this.afterOp(node);
  }

  async restart(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.state === 'paused') await runChecked(this.runner, this.commands.unpause(node.containerId));
    await runChecked(
      this.runner,
      node.state === 'killed'
        ? this.commands.start(node.containerId)
        : this.commands.restart(node.containerId),
    );
    await this.refresh();
    const serving = this.options.serving ?? ((address: string) => isServing(address));
    const timeoutMs = this.options.readyTimeoutMs ?? 55_000;
    const ready = await pollUntil(
      async () => {
        await this.refresh();
        return node.client !== undefined && (await serving(node.client.address));
      },
      timeoutMs,
      this.options.pollMs ?? 250,
    );
    if (!ready)
      throw new Error(`node ${id} (${node.service}) did not answer health SERVING within ${timeoutMs} ms`);
    return this.info(node);
  }

  async partition(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (node.cutFrom) throw new StackOpError(409, `node ${id} is partitioned already`);
    const [state] = parseInspect(await runChecked(this.runner, this.commands.inspect([node.containerId])));
    const networks = (state?.networks ?? []).map(({ name, aliases }) => ({
      name,
      // Compose's aliases are the service name and the container's short id; the service name is the one peers use.
      aliases: [
        ...new Set([node.service, ...aliases.filter((alias) => !node.containerId.startsWith(alias))]),
      ],
    }));
    for (const network of networks)
      await runChecked(this.runner, this.commands.disconnect(network.name, node.containerId));
    node.cutFrom = networks;
    this.writePartitions();
    return this.afterOp(node);
  }

  async heal(id: number): Promise<StackNodeInfo> {
    const node = this.node(id);
    if (!node.cutFrom) throw new StackOpError(409, `node ${id} is not partitioned`);
    for (const network of node.cutFrom)
      await runChecked(this.runner, this.commands.connect(network.name, network.aliases, node.containerId));
    node.cutFrom = undefined;
    this.writePartitions();
    return this.afterOp(node);
  }

  private node(id: number): Node {
    const node = this.byId.get(id);
    if (!node)
      throw new StackOpError(404, `no booking node ${id} (nodes: ${[...this.byId.keys()].join(', ')})`);
    return node;
  }

  private endpoint(node: Node, port: number): Endpoint | undefined {
    // A paused container keeps its address: connections open and then hang, as they would locally.
    return node.ip && node.state !== 'killed' ? { host: node.ip, port } : undefined;
  }

  private async afterOp(node: Node): Promise<StackNodeInfo> {
    await this.refresh();
    return this.info(node);
  }

  /** Reads every node's container state and address from `docker inspect`. */
  private async refresh(): Promise<void> {
    const nodes = [...this.byId.values()];
    const states = parseInspect(
      await runChecked(this.runner, this.commands.inspect(nodes.map((n) => n.containerId))),
    );
    for (const node of nodes) {
      const state = states.find(
        (s) => s.id.startsWith(node.containerId) || node.containerId.startsWith(s.id),
      );
      node.state = processState(state?.status ?? 'missing');
      node.ip = state?.networks.find((network) => network.ip !== '')?.ip;
    }
  }

  private info(node: Node): StackNodeInfo {
    return {
      id: node.id,
      pid: undefined,
      state: node.state,
      partitioned: node.cutFrom !== undefined,
      clientAddress: node.client?.address ?? '',
      peerAddress: node.peer?.address ?? '',
      database: `${node.service}-db`,
    };
  }

  private readPartitions(): Record<number, { name: string; aliases: string[] }[]> {
    try {
      return JSON.parse(readFileSync(path.join(this.dataDir, PARTITIONS_FILE), 'utf8')) as Record<
        number,
        { name: string; aliases: string[] }[]
      >;
    } catch {
      return {};
    }
  }

  private writePartitions(): void {
    const file = path.join(this.dataDir, PARTITIONS_FILE);
    const cut = Object.fromEntries(
      [...this.byId.values()].filter((n) => n.cutFrom).map((n) => [n.id, n.cutFrom]),
    );
    if (Object.keys(cut).length === 0) rmSync(file, { force: true });
    else writeFileSync(file, `${JSON.stringify(cut, null, 2)}\n`);
  }
}
