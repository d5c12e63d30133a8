import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/*
 * The control API of a running stack (`npm start`): a small HTTP server on 127.0.0.1 through which a
 * chaos tool kills, pauses, resumes, restarts, partitions and heals booking nodes. Its address and
 * everything a client needs to talk to the stack are written to <dataDir>/stack.json while it runs.
 *
 *   GET  /nodes                                          → StackNodeInfo[]
 *   POST /nodes/:id/(kill|pause|resume|restart|partition|heal) → StackNodeInfo
 *   GET  /etcd                                           → EtcdInfo (404 when the stack runs none)
 *   POST /etcd/(kill|pause|resume|restart)               → EtcdInfo
 *   errors                                               → {"error": "..."}: 400 bad id or op,
 *                                                          404 no such node, 409 not now (state)
 */

/**
 * running: the process is up. paused: SIGSTOP (alive, answers nothing). killed: gone without being
 * asked to stop (SIGKILL, or a crash). stopped: stopped on request (SIGTERM), e.g. by the stack.
 */
export type NodeProcessState = 'running' | 'paused' | 'killed' | 'stopped';

export interface StackNodeInfo {
  id: number;
  pid: number | undefined;
  state: NodeProcessState;
  partitioned: boolean;
  /** The node's client (booking API) address. */
  clientAddress: string;
  /** The node's real peer port (not a fault proxy): ClusterService.Status lives here. */
  peerAddress: string;
  /** Its booking database on the stack's MySQL server. */
  database: string;
}

export interface StackDescription {
  controlUrl: string;
  /** The nginx front door. */
  grpcAddress: string;
  mysqlUrl: string;
  catalogAddress: string;
  recommendationAddress: string;
  tokenSecret: string;
  adminEmail: string;
  adminPassword: string;
  /**
   * The absolute directory holding booking-N.log (and the other processes' logs), where the chaos
   * CLI reads the nodes' election lines: not under the data dir for `npm start` (it uses .data/logs).
   */
  logsDir: string;
  nodes: StackNodeInfo[];
  /** The booking group's etcd (the fallback lease): absent when it runs bully + quorum alone. */
  etcd?: EtcdInfo;
}

export type EtcdProcessState = NodeProcessState;

export interface EtcdInfo {
  /** Client URL the booking nodes use (MARQUEE_ETCD_ENDPOINTS). */
  endpoint: string;
  /** Undefined when the stack did not start it (an etcd of your own) or it is not running. */
  pid: number | undefined;
  /** 'external' for an etcd the stack does not run (chaos cannot fault it). */
  state: EtcdProcessState | 'external';
}

export const STACK_FILE = 'stack.json';

export const NODE_OPS = ['kill', 'pause', 'resume', 'restart', 'partition', 'heal'] as const;
export type NodeOp = (typeof NODE_OPS)[number];

export const ETCD_OPS = ['kill', 'pause', 'resume', 'restart'] as const;
export type EtcdOp = (typeof ETCD_OPS)[number];

/** The stack's private etcd, as the control server drives it. */
export interface EtcdOps extends Record<EtcdOp, () => Promise<EtcdInfo>> {
  info(): EtcdInfo;
}

/** What the control server drives: RunningStack implements it; the unit test passes a fake. */
export interface StackOps extends Record<NodeOp, (id: number) => Promise<StackNodeInfo>> {
  nodes(): StackNodeInfo[];
  /** Absent when the stack started no etcd. */
  etcd?: EtcdOps;
}

/** Thrown by StackOps for a request that is understood but cannot be done: its HTTP status. */
export class StackOpError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'StackOpError';
  }
}

/** Reads <dataDir>/stack.json, written by a running `npm start`. */
export function readStackDescription(dataDir: string): StackDescription {
  const file = path.join(dataDir, STACK_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${file} does not exist: is \`npm start\` running?`);
    throw error;
  }
  let description: Partial<StackDescription> | null;
  try {
    description = JSON.parse(text) as Partial<StackDescription> | null;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}): is \`npm start\` running?`);
  }
  // One written before stack.json named the logs directory would fail later, inside a path call.
  if (typeof description?.logsDir !== 'string')
    throw new Error(`${file} has no logsDir: it was written by an older \`npm start\`; restart it`);
  return description as StackDescription;
}

/**
 * Serves the control API on 127.0.0.1 and a free port and writes <dataDir>/stack.json (rewritten
 * after every operation, so its node states stay close to the truth; GET /nodes is the truth).
 * stop() closes the server and removes the file.
 */
export async function startControlServer(
  stack: StackOps,
  dataDir: string,
  description: Omit<StackDescription, 'controlUrl' | 'nodes' | 'etcd'>,
): Promise<{ url: string; stop(): Promise<void> }> {
  const file = path.join(dataDir, STACK_FILE);
  let url = '';
  const writeDescription = (): void => {
    const full: StackDescription = {
      controlUrl: url,
      ...description,
      nodes: stack.nodes(),
      ...(stack.etcd ? { etcd: stack.etcd.info() } : {}),
    };
    // Write then rename: a reader never sees half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(full, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };
  const server = http.createServer((request, response) => {
    void route(stack, request.method ?? 'GET', request.url ?? '/').then(({ status, body }) => {
      if (request.method === 'POST' && status === 200) {
        try {
          writeDescription();
        } catch {
          // The operation happened; a stale file only misleads until the next one, GET /nodes does not.
        }
      }
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeDescription();
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        rmSync(file, { force: true });
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

type Reply = { status: number; body: unknown };

async function route(stack: StackOps, method: string, rawUrl: string): Promise<Reply> {
  const parts = new URL(rawUrl, 'http://control').pathname.split('/').filter(Boolean);
  if (parts[0] === 'etcd') return routeEtcd(stack.etcd, method, rawUrl, parts);
  if (parts[0] !== 'nodes' || parts.length === 2 || parts.length > 3)
    return fail(404, `no route ${method} ${rawUrl}: try GET /nodes or POST /nodes/:id/:op`);
  const expected = parts.length === 1 ? 'GET' : 'POST';
  if (method !== expected) return fail(405, `${rawUrl} answers ${expected} only`);
  try {
    if (parts.length === 1) return { status: 200, body: stack.nodes() };
    const [, idText = '', op = ''] = parts;
    if (!/^[1-9]\d{0,3}$/.test(idText))
      return fail(400, `id: must be a node id (a positive integer), got ${JSON.stringify(idText)}`);
    if (!(NODE_OPS as readonly string[]).includes(op))
      return fail(400, `op: must be one of ${NODE_OPS.join(', ')}, got ${JSON.stringify(op)}`);
    return { status: 200, body: await stack[op as NodeOp](Number(idText)) };
  } catch (error) {
    if (error instanceof StackOpError) return fail(error.status, error.message);
    return fail(500, error instanceof Error ? error.message : String(error));
  }
}

async function routeEtcd(
  etcd: EtcdOps | undefined,
  method: string,
  rawUrl: string,
  parts: string[],
): Promise<Reply> {
  if (parts.length > 2) return fail(404, `no route ${method} ${rawUrl}: try GET /etcd or POST /etcd/:op`);
  const expected = parts.length === 1 ? 'GET' : 'POST';
  if (method !== expected) return fail(405, `${rawUrl} answers ${expected} only`);
  if (!etcd)
    return fail(
      404,
      'this stack runs no etcd of its own (MARQUEE_ETCD_ENDPOINTS was set: empty or external)',
    );
  if (parts.length === 1) return { status: 200, body: etcd.info() };
  const op = parts[1] ?? '';
  if (!(ETCD_OPS as readonly string[]).includes(op))
    return fail(400, `op: must be one of ${ETCD_OPS.join(', ')}, got ${JSON.stringify(op)}`);
  try {
    return { status: 200, body: await etcd[op as EtcdOp]() };
  } catch (error) {
    if (error instanceof StackOpError) return fail(error.status, error.message);
    return fail(500, error instanceof Error ? error.message : String(error));
  }
}

function fail(status: number, error: string): Reply {
  return { status, body: { error } };
}

/** The client the chaos CLI uses; every failure is an Error whose message is the server's. */
export class StackControlClient {
  constructor(
    private readonly controlUrl: string,
    /** restart waits for the node to be SERVING again, so this is generous. */
    private readonly timeoutMs = 60_000,
  ) {}

  async nodes(): Promise<StackNodeInfo[]> {
    return (await this.request<StackNodeInfo[]>('GET', '/nodes')).map(withPid);
  }
  kill(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'kill');
  }
  pause(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'pause');
  }
  resume(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'resume');
  }
  restart(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'restart');
  }
  partition(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'partition');
  }
  heal(id: number): Promise<StackNodeInfo> {
    return this.op(id, 'heal');
  }

  async etcd(): Promise<EtcdInfo> {
    return withEtcdPid(await this.request<EtcdInfo>('GET', '/etcd'));
  }
  async etcdOp(op: EtcdOp): Promise<EtcdInfo> {
    return withEtcdPid(await this.request<EtcdInfo>('POST', `/etcd/${op}`));
  }

  private async op(id: number, op: NodeOp): Promise<StackNodeInfo> {
    return withPid(
      await this.request<StackNodeInfo>('POST', `/nodes/${encodeURIComponent(String(id))}/${op}`),
    );
  }

  private async request<T>(method: string, route: string): Promise<T> {
    const url = new URL(route, this.controlUrl);
    let response: Response;
    try {
      response = await fetch(url, { method, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new Error(`${method} ${url.href}: no answer (${cause}); is \`npm start\` running?`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const error = (body as { error?: unknown } | undefined)?.error;
      throw new Error(typeof error === 'string' ? error : `${method} ${url.href}: HTTP ${response.status}`);
    }
    return body as T;
  }
}

/** JSON drops an undefined pid; put the key back so a node reads the same on both sides. */
function withPid(node: StackNodeInfo): StackNodeInfo {
  return { ...node, pid: node.pid ?? undefined };
}

function withEtcdPid(etcd: EtcdInfo): EtcdInfo {
  return { ...etcd, pid: etcd.pid ?? undefined };
}
