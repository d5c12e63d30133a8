import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { STACK_FILE, StackControlClient, StackOpError, readStackDescription } from '../../stack-control';
import type { StackNodeInfo } from '../../stack-control';
import { UsageError, parseArgs } from '../args';
import { splitTargetArgs } from '../targets/args';
import {
  ComposeBackend,
  bookingServices,
  composeCommands,
  frontDoorPort,
  processState,
} from '../targets/compose';
import { createTarget } from '../targets';
import {
  KUBERNETES_DEFAULTS,
  KubernetesBackend,
  kubectlCommands,
  partitionPolicy,
  podState,
  readStatefulSet,
  signalScript,
} from '../targets/k8s';
import { Relay } from '../targets/relay';
import { CommandError, Supervised, runChecked } from '../targets/runner';
import type { BackgroundProcess, CommandRunner, RunOptions, RunResult } from '../targets/runner';
import { BackendTarget, LocalTarget } from '../targets/target';
import type { NodeBackend } from '../targets/target';

/*
 * The Compose and Kubernetes chaos targets, driven through a fake runner: each test states the exact
 * argv docker or kubectl would get, and what the target makes of their answers. Nothing here starts
 * docker or kubectl.
 */

const root = path.join(__dirname, '..', '..', '..', '..');

/** Records every command; answers from `answer` (stdout, or a whole result). */
class FakeRunner implements CommandRunner {
  readonly calls: { argv: string[]; input?: string }[] = [];
  readonly spawned: { argv: string[]; outputFile?: string; exit: () => void; stopped: boolean }[] = [];

  /** Replaceable mid-test (a pod that comes back after a few polls). */
  constructor(public answer: (argv: string[]) => string | RunResult) {}

  async run(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    this.calls.push({ argv: [...argv], ...(options?.input === undefined ? {} : { input: options.input }) });
    const answer = this.answer([...argv]);
    return typeof answer === 'string' ? { code: 0, stdout: answer, stderr: '' } : answer;
  }

  spawn(argv: readonly string[], options: { outputFile?: string } = {}): BackgroundProcess {
    let exit = (): void => undefined;
    const exited = new Promise<void>((resolve) => (exit = resolve));
    const entry = { argv: [...argv], outputFile: options.outputFile, exit, stopped: false };
    this.spawned.push(entry);
    return {
      exited,
      stop: () => {
        entry.stopped = true;
        exit();
      },
    };
  }

  /** The argv of every run command after the first `skip`. */
  argvs(skip = 0): string[][] {
    return this.calls.slice(skip).map((call) => call.argv);
  }
}

const failed = (stderr: string): RunResult => ({ code: 1, stdout: '', stderr });

let dir: string;
/** Where a backend is told to relay the nodes' logs: not <dir>/logs, so a test sees that it is obeyed. */
let logsDir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-chaos-targets-'));
  logsDir = path.join(dir, 'node-logs');
  mkdirSync(logsDir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('chaos --target options', () => {
  it('takes --target and its own options out, leaving the command for the chaos parser', () => {
    const args = splitTargetArgs(['kill-master', '--target', 'k8s', '--workers', '0', '--namespace=prod']);
    expect(args).toMatchObject({ target: 'k8s', namespace: 'prod', dataDirGiven: false });
    expect(parseArgs(args.rest)).toMatchObject({ command: 'kill-master', workers: 0 });
    expect(splitTargetArgs(['status'])).toMatchObject({ target: 'local', composeFile: 'docker-compose.yml' });
    expect(
      splitTargetArgs(['status', '--target=compose', '--project', 'mq', '--data-dir', '/tmp/x']),
    ).toMatchObject({
      target: 'compose',
      project: 'mq',
      dataDirGiven: true,
      rest: ['status', '--data-dir', '/tmp/x'],
    });
  });

  it.each([
    [['status', '--target', 'swarm'], '--target: one of local, compose, k8s, got "swarm"'],
    [['status', '--namespace', 'x'], '--namespace applies to --target k8s only'],
    [['status', '--target', 'k8s', '--project', 'x'], '--project applies to --target compose only'],
    [['status', '--target'], '--target needs a value'],
    [['status', '--target', 'k8s', '--target', 'compose'], '--target given twice'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => splitTargetArgs(argv)).toThrow(new UsageError(message));
  });

  it('each target has its own data directory, and only the local stack runs the soak', () => {
    const target = (argv: string[]) => createTarget(splitTargetArgs(argv), new FakeRunner(() => ''), root);
    expect(target(['status']).defaultDataDir).toBe('.data/local');
    expect(target(['status', '--target', 'compose']).defaultDataDir).toBe('.data/compose');
    expect(target(['status', '--target', 'k8s']).defaultDataDir).toBe('.data/k8s');
    expect(new LocalTarget().unsupported()).toBeUndefined();
    for (const name of ['compose', 'k8s']) {
      const t = target(['status', '--target', name]);
      expect(t.unsupported('soak')).toMatch(/only the local stack/);
      for (const command of [
        'status',
        'kill-master',
        'pause-master',
        'partition',
        'heal',
        'restart',
      ] as const)
        expect(t.unsupported(command)).toBeUndefined();
    }
  });
});

describe('runner helpers', () => {
  it('runChecked returns stdout, and a failure names the command and what it said', async () => {
    const runner = new FakeRunner((argv) =>
      argv[1] === 'ok' ? 'fine\n' : failed('E1 noise\nthe server is gone\n'),
    );
    await expect(runChecked(runner, ['tool', 'ok'])).resolves.toBe('fine\n');
    await expect(runChecked(runner, ['tool', 'bad'])).rejects.toThrow(
      new CommandError(['tool', 'bad'], failed('E1 noise\nthe server is gone')),
    );
    await expect(runChecked(runner, ['tool', 'bad'])).rejects.toThrow(
      '`tool bad` failed (exit 1): E1 noise … the server is gone',
    );
  });

  it('Supervised starts a command again when it exits, from when the last run ended, until stopped', async () => {
    const runner = new FakeRunner(() => '');
    const times = ['2026-11-25T12:00:05.000Z', '2026-11-25T12:00:09.000Z'].map((t) => new Date(t));
    const supervised = new Supervised(runner, (lastExit) => ['follow', lastExit?.toISOString() ?? 'start'], {
      outputFile: 'out.log',
      backoffMs: 1,
      now: () => times.shift()!,
    });
    supervised.start();
    expect(runner.spawned.map((s) => s.argv)).toEqual([['follow', 'start']]);
    runner.spawned[0]!.exit();
    await new Promise((resolve) => setTimeout(resolve, 30));
    runner.spawned[1]!.exit();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runner.spawned.map((s) => [s.argv, s.outputFile])).toEqual([
      [['follow', 'start'], 'out.log'],
      [['follow', '2026-11-25T12:00:05.000Z'], 'out.log'],
      [['follow', '2026-11-25T12:00:09.000Z'], 'out.log'],
    ]);
    await supervised.stop();
    expect(runner.spawned[2]!.stopped).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runner.spawned).toHaveLength(3);
  });

  it('a Relay forwards each connection to where the target is now, and refuses while it has no address', async () => {
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    const port = (echo.address() as net.AddressInfo).port;
    let target: { host: string; port: number } | undefined = { host: '127.0.0.1', port };
    const relay = await Relay.start(() => target);
    const exchange = (): Promise<string> =>
      new Promise((resolve) => {
        const socket = net.connect(relay.port, '127.0.0.1', () => socket.write('ping'));
        let got = '';
        socket.on('data', (data) => {
          got += data.toString();
          socket.end();
        });
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
    try {
      expect(await exchange()).toBe('ping');
      target = undefined;
      expect(await exchange()).toBe('');
      target = { host: '127.0.0.1', port };
      expect(await exchange()).toBe('ping');
    } finally {
      await relay.close();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

describe('the control API in front of a backend', () => {
  it('serves the backend as the local stack serves itself, in stack.json, until detached', async () => {
    const node: StackNodeInfo = {
      id: 1,
      pid: undefined,
      state: 'running',
      partitioned: false,
      clientAddress: '127.0.0.1:1',
      peerAddress: '127.0.0.1:2',
      database: 'db',
    };
    const calls: string[] = [];
    const op = (name: string) => async (id: number) => {
      calls.push(`${name} ${id}`);
      if (id !== 1) throw new StackOpError(404, `no booking node ${id}`);
      return node;
    };
    const backend: NodeBackend = {
      open: async (dataDir, logs) => {
        calls.push(`open ${dataDir} ${logs}`);
        return {
          grpcAddress: '127.0.0.1:3',
          catalogAddress: '127.0.0.1:3',
          recommendationAddress: '127.0.0.1:3',
          mysqlUrl: '',
          tokenSecret: '',
          adminEmail: '',
          adminPassword: '',
        };
      },
      close: async () => void calls.push('close'),
      nodes: () => [node],
      kill: op('kill'),
      pause: op('pause'),
      resume: op('resume'),
      restart: op('restart'),
      partition: op('partition'),
      heal: op('heal'),
    };
    const attached = await new BackendTarget('k8s', backend).attach(dir);
    try {
      const description = readStackDescription(dir);
      expect(description.grpcAddress).toBe('127.0.0.1:3');
      // The backend relays the nodes' logs where stack.json tells the session to read them.
      expect(description.logsDir).toBe(path.join(dir, 'logs'));
      expect(existsSync(description.logsDir)).toBe(true);
      expect(description.nodes).toEqual([node]);
      const control = new StackControlClient(description.controlUrl);
      await expect(control.kill(1)).resolves.toEqual(node);
      await expect(control.pause(2)).rejects.toThrow('no booking node 2');
    } finally {
      await attached.detach();
    }
    expect(existsSync(path.join(dir, STACK_FILE))).toBe(false);
    expect(calls).toEqual([`open ${dir} ${path.join(dir, 'logs')}`, 'kill 1', 'pause 2', 'close']);
  });
});

// ---------------------------------------------------------------------------------------------------

interface FakeContainer {
  status: string;
  ip: string;
  networks: Record<string, string[]>;
}

/** A fake docker: the real docker-compose.yml as `compose config`, and containers c1..c3 whose state the test sets. */
function fakeDocker(): { runner: FakeRunner; containers: Map<string, FakeContainer> } {
  const containers = new Map<string, FakeContainer>(
    [1, 2, 3].map((n) => [
      `c${n}`,
      {
        status: 'running',
        ip: `172.18.0.${n + 1}`,
        networks: { marquee_default: [`booking-${n}`, `c${n}`] },
      },
    ]),
  );
  const runner = new FakeRunner((argv) => {
    if (argv.includes('config')) return readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    if (argv.includes('ps')) return `c${argv.at(-1)!.replace('booking-', '')}\n`;
    if (argv[1] === 'inspect')
      return JSON.stringify(
        argv.slice(2).map((id) => {
          const c = containers.get(id)!;
          return {
            Id: `${id}ffffffff`,
            State: { Status: c.status },
            NetworkSettings: {
              Networks: Object.fromEntries(
                Object.entries(c.networks).map(([name, aliases]) => [
                  name,
                  { IPAddress: c.ip, Aliases: aliases },
                ]),
              ),
            },
          };
        }),
      );
    const c = containers.get(argv.at(-1)!);
    if (argv[1] === 'kill' && c) c.status = 'exited';
    if (argv[1] === 'pause' && c) c.status = 'paused';
    if ((argv[1] === 'unpause' || argv[1] === 'start' || argv[1] === 'restart') && c) c.status = 'running';
    if (argv[2] === 'disconnect' && c) c.networks = {};
    if (argv[2] === 'connect' && c) c.networks = { [argv.at(-2)!]: [] };
    return '';
  });
  return { runner, containers };
}

describe('the compose target', () => {
  const clock = () => new Date('2026-11-25T12:00:00.000Z');
  const open = async (runner: FakeRunner, dataDir = dir) => {
    const backend = new ComposeBackend(runner, {
      file: '/srv/marquee/docker-compose.yml',
      project: 'mq',
      serving: async () => true,
      pollMs: 0,
      now: clock,
    });
    await backend.open(dataDir, logsDir);
    return backend;
  };

  it('builds every docker command as an argv', () => {
    const c = composeCommands({ file: 'docker-compose.yml' });
    expect(c.config()).toEqual(['docker', 'compose', '-f', 'docker-compose.yml', 'config']);
    expect(composeCommands({ file: 'f.yml', project: 'mq' }).containerId('booking-2')).toEqual([
      'docker',
      'compose',
      '-f',
      'f.yml',
      '-p',
      'mq',
      'ps',
      '--all',
      '--quiet',
      'booking-2',
    ]);
    expect(c.kill('abc')).toEqual(['docker', 'kill', '--signal', 'KILL', 'abc']);
    expect(c.pause('abc')).toEqual(['docker', 'pause', 'abc']);
    expect(c.unpause('abc')).toEqual(['docker', 'unpause', 'abc']);
    expect(c.start('abc')).toEqual(['docker', 'start', 'abc']);
    expect(c.restart('abc')).toEqual(['docker', 'restart', '--time', '10', 'abc']);
    expect(c.disconnect('net', 'abc')).toEqual(['docker', 'network', 'disconnect', 'net', 'abc']);
    expect(c.connect('net', ['booking-1'], 'abc')).toEqual([
      'docker',
      'network',
      'connect',
      '--alias',
      'booking-1',
      'net',
      'abc',
    ]);
    expect(c.logs('abc', '2026-11-25T12:00:00.000Z')).toEqual([
      'docker',
      'logs',
      '--follow',
      '--since',
      '2026-11-25T12:00:00.000Z',
      'abc',
    ]);
  });

  it("reads the booking nodes, their ports and the front door from the Compose file's configuration", () => {
    const config = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    expect(bookingServices(config)).toEqual([
      { service: 'booking-1', id: 1, clientPort: 50071, peerPort: 50081 },
      { service: 'booking-2', id: 2, clientPort: 50071, peerPort: 50081 },
      { service: 'booking-3', id: 3, clientPort: 50071, peerPort: 50081 },
    ]);
    expect(frontDoorPort(config)).toBe(50050);
    // `docker compose config` writes ports in the long form.
    expect(
      frontDoorPort('services:\n  nginx:\n    ports:\n      - {target: 50050, published: "15050"}\n'),
    ).toBe(15050);
    expect(['running', 'paused', 'exited', 'dead', 'created'].map(processState)).toEqual([
      'running',
      'paused',
      'killed',
      'killed',
      'killed',
    ]);
  });

  it('finds the containers, relays to them and follows their logs', async () => {
    const { runner } = fakeDocker();
    const backend = await open(runner);
    try {
      expect(runner.argvs()).toEqual([
        ['docker', 'compose', '-f', '/srv/marquee/docker-compose.yml', '-p', 'mq', 'config'],
        ...[1, 2, 3].map((n) => [
          'docker',
          'compose',
          '-f',
          '/srv/marquee/docker-compose.yml',
          '-p',
          'mq',
          'ps',
          '--all',
          '--quiet',
          `booking-${n}`,
        ]),
        ['docker', 'inspect', 'c1', 'c2', 'c3'],
      ]);
      expect(runner.spawned.map((s) => [s.argv, path.relative(dir, s.outputFile!)])).toEqual(
        [1, 2, 3].map((n) => [
          ['docker', 'logs', '--follow', '--since', '2026-11-25T12:00:00.000Z', `c${n}`],
          `node-logs/booking-${n}.log`,
        ]),
      );
      const nodes = backend.nodes();
      expect(nodes.map((n) => [n.id, n.state, n.partitioned, n.database])).toEqual([
        [1, 'running', false, 'booking-1-db'],
        [2, 'running', false, 'booking-2-db'],
        [3, 'running', false, 'booking-3-db'],
      ]);
      for (const n of nodes) {
        expect(n.clientAddress).toMatch(/^127\.0\.0\.1:\d+$/);
        expect(n.peerAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      }
    } finally {
      await backend.close();
    }
    expect(runner.spawned.every((s) => s.stopped)).toBe(true);
  });

  it('kills with docker kill, pauses with docker pause, restarts with docker start or restart', async () => {
    const { runner } = fakeDocker();
    const backend = await open(runner);
    try {
      const from = runner.calls.length;
      await expect(backend.kill(3)).resolves.toMatchObject({ id: 3, state: 'killed' });
      await expect(backend.kill(3)).rejects.toThrow(
        new StackOpError(409, 'node 3 is killed: cannot kill it'),
      );
      await expect(backend.pause(2)).resolves.toMatchObject({ state: 'paused' });
      await expect(backend.resume(2)).resolves.toMatchObject({ state: 'running' });
      await expect(backend.resume(2)).rejects.toThrow('node 2 is running: cannot resume it');
      await expect(backend.restart(3)).resolves.toMatchObject({ state: 'running' });
      await expect(backend.restart(1)).resolves.toMatchObject({ state: 'running' });
      await expect(backend.kill(7)).rejects.toThrow(
        new StackOpError(404, 'no booking node 7 (nodes: 1, 2, 3)'),
      );
      const actions = runner.argvs(from).filter((argv) => argv[1] !== 'inspect');
      expect(actions).toEqual([
        ['docker', 'kill', '--signal', 'KILL', 'c3'],
        ['docker', 'pause', 'c2'],
        ['docker', 'unpause', 'c2'],
        ['docker', 'start', 'c3'],
        ['docker', 'restart', '--time', '10', 'c1'],
      ]);
    } finally {
      await backend.close();
    }
  });

  it('a restart that never answers health SERVING fails, naming the node', async () => {
    const { runner } = fakeDocker();
    const backend = new ComposeBackend(runner, {
      file: 'f.yml',
      serving: async () => false,
      readyTimeoutMs: 20,
      pollMs: 5,
    });
    await backend.open(dir, logsDir);
    try {
      await expect(backend.restart(2)).rejects.toThrow(
        'node 2 (booking-2) did not answer health SERVING within 20 ms',
      );
    } finally {
      await backend.close();
    }
  });

  it('partitions by disconnecting every network, remembers it across runs, and heals under the service name', async () => {
    const { runner, containers } = fakeDocker();
    const first = await open(runner);
    const from = runner.calls.length;
    try {
      await expect(first.partition(1)).resolves.toMatchObject({ partitioned: true });
      await expect(first.partition(1)).rejects.toThrow('node 1 is partitioned already');
    } finally {
      await first.close();
    }
    expect(runner.argvs(from).filter((argv) => argv[1] === 'network')).toEqual([
      ['docker', 'network', 'disconnect', 'marquee_default', 'c1'],
    ]);
    expect(containers.get('c1')!.networks).toEqual({});
    // `chaos partition 1` has ended; `chaos heal` is another run.
    const second = await open(runner);
    try {
      expect(second.nodes().map((n) => n.partitioned)).toEqual([true, false, false]);
      const healFrom = runner.calls.length;
      await expect(second.heal(1)).resolves.toMatchObject({ partitioned: false });
      expect(runner.argvs(healFrom)[0]).toEqual([
        'docker',
        'network',
        'connect',
        '--alias',
        'booking-1',
        'marquee_default',
        'c1',
      ]);
      await expect(second.heal(1)).rejects.toThrow('node 1 is not partitioned');
    } finally {
      await second.close();
    }
    expect(existsSync(path.join(dir, 'compose-partitions.json'))).toBe(false);
  });

  it('says what to do when Compose cannot be run or the stack is not up', async () => {
    const noCompose = new ComposeBackend(new FakeRunner(() => failed("unknown shorthand flag: 'f' in -f")), {
      file: 'f.yml',
    });
    await expect(noCompose.open(dir, logsDir)).rejects.toThrow(
      /needs Docker Compose v2, `docker compose`, and a running Docker engine/,
    );
    const down = new ComposeBackend(
      new FakeRunner((argv) =>
        argv.includes('config') ? readFileSync(path.join(root, 'docker-compose.yml'), 'utf8') : '',
      ),
      { file: 'f.yml' },
    );
    await expect(down.open(dir, logsDir)).rejects.toThrow(
      'no container for booking-1: is the stack up (docker compose up -d)?',
    );
  });
});

// ---------------------------------------------------------------------------------------------------

/** The booking StatefulSet exactly as deploy/k8s/booking.yaml defines it. */
const statefulSetJson = JSON.stringify(
  parseAllDocuments(readFileSync(path.join(root, 'deploy/k8s/booking.yaml'), 'utf8'))
    .map((doc) => doc.toJS() as { kind?: string })
    .find((object) => object?.kind === 'StatefulSet'),
);

interface FakePod {
  uid: string;
  ready: boolean;
}

function fakeKubectl(policies: string[] = []): {
  runner: FakeRunner;
  pods: Map<string, FakePod | undefined>;
} {
  const pods = new Map<string, FakePod | undefined>(
    [0, 1, 2].map((n) => [`booking-${n}`, { uid: `uid-${n}-a`, ready: true }]),
  );
  const podJson = (name: string, pod: FakePod) => ({
    metadata: { name, uid: pod.uid },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'booking', state: { running: {} } }],
    },
  });
  const runner = new FakeRunner((argv) => {
    const verb = argv.slice(argv.indexOf('--namespace') + 2);
    if (verb[0] === 'get' && verb[1] === 'statefulset') return statefulSetJson;
    if (verb[0] === 'get' && verb[1] === 'networkpolicy')
      return JSON.stringify({
        items: policies.map((pod) => ({ metadata: { labels: { 'marquee-chaos/partition': pod } } })),
      });
    if (verb[0] === 'get' && verb[1] === 'pods')
      return JSON.stringify({
        items: [...pods].flatMap(([name, pod]) => (pod ? [podJson(name, pod)] : [])),
      });
    if (verb[0] === 'get' && verb[1] === 'pod') {
      const pod = pods.get(verb[2]!);
      return pod ? JSON.stringify(podJson(verb[2]!, pod)) : failed(`pods "${verb[2]}" not found`);
    }
    if (verb[0] === 'delete' && verb[1] === 'pod') pods.set(verb[2]!, undefined);
    return '';
  });
  return { runner, pods };
}

describe('the k8s target', () => {
  const clock = () => new Date('2026-11-25T12:00:00.000Z');
  const open = async (runner: FakeRunner, options: { readyTimeoutMs?: number } = {}) => {
    let port = 41000;
    const backend = new KubernetesBackend(runner, {
      context: 'staging',
      freePort: async () => ++port,
      listening: async () => true,
      pollMs: 0,
      now: clock,
      ...options,
    });
    await backend.open(dir, logsDir);
    return backend;
  };
  const k = ['kubectl', '--context', 'staging', '--namespace', 'marquee'];

  it('builds every kubectl command as an argv', () => {
    const c = kubectlCommands({});
    expect(c.kill('booking-2')).toEqual([
      'kubectl',
      '--namespace',
      'marquee',
      'delete',
      'pod',
      'booking-2',
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    expect(c.delete('booking-0')).toEqual([
      'kubectl',
      '--namespace',
      'marquee',
      'delete',
      'pod',
      'booking-0',
      '--wait=true',
    ]);
    expect(c.signal('booking-1', 'STOP')).toEqual([
      'kubectl',
      '--namespace',
      'marquee',
      'exec',
      'booking-1',
      '--container',
      'booking',
      '--',
      'sh',
      '-c',
      signalScript('STOP'),
    ]);
    expect(c.partition()).toEqual(['kubectl', '--namespace', 'marquee', 'apply', '--filename', '-']);
    expect(c.heal('booking-1')).toEqual([
      'kubectl',
      '--namespace',
      'marquee',
      'delete',
      'networkpolicy',
      'marquee-chaos-partition-booking-1',
      '--ignore-not-found',
    ]);
    expect(
      c.forwardPod('booking-0', [
        [41001, 50071],
        [41002, 50081],
      ]),
    ).toEqual([
      'kubectl',
      '--namespace',
      'marquee',
      'port-forward',
      '--address',
      '127.0.0.1',
      'pod/booking-0',
      '41001:50071',
      '41002:50081',
    ]);
    expect(kubectlCommands({ namespace: 'prod', context: 'eu' }).logs('booking-0', 'T')).toEqual([
      'kubectl',
      '--context',
      'eu',
      '--namespace',
      'prod',
      'logs',
      '--follow',
      'booking-0',
      '--container',
      'booking',
      '--since-time=T',
    ]);
  });

  it('reads the StatefulSet of deploy/k8s: 3 pods, their selector, client and peer ports', () => {
    expect(readStatefulSet(statefulSetJson, KUBERNETES_DEFAULTS.container)).toEqual({
      replicas: 3,
      selector: 'app.kubernetes.io/name=booking',
      clientPort: 50071,
      peerPort: 50081,
    });
    expect(podState(undefined, 'booking')).toBe('killed');
    expect(podState({ metadata: { name: 'booking-0', deletionTimestamp: 'now' } }, 'booking')).toBe('killed');
    expect(
      podState(
        { metadata: { name: 'booking-0' }, status: { phase: 'Pending', containerStatuses: [] } },
        'booking',
      ),
    ).toBe('killed');
  });

  it('forwards a local port to each pod (node N+1 is booking-N) and to the front door, and follows the logs', async () => {
    const { runner } = fakeKubectl();
    const backend = await open(runner);
    try {
      expect(runner.argvs()).toEqual([
        [...k, 'get', 'statefulset', 'booking', '--output', 'json'],
        [
          ...k,
          'get',
          'networkpolicy',
          '--selector',
          'app.kubernetes.io/managed-by=marquee-chaos',
          '--output',
          'json',
        ],
        [...k, 'get', 'pods', '--selector', 'app.kubernetes.io/name=booking', '--output', 'json'],
      ]);
      expect(runner.spawned.map((s) => [s.argv, s.outputFile && path.relative(dir, s.outputFile)])).toEqual([
        [
          [...k, 'port-forward', '--address', '127.0.0.1', 'pod/booking-0', '41001:50071', '41002:50081'],
          undefined,
        ],
        [
          [
            ...k,
            'logs',
            '--follow',
            'booking-0',
            '--container',
            'booking',
            '--since-time=2026-11-25T12:00:00.000Z',
          ],
          'node-logs/booking-1.log',
        ],
        [
          [...k, 'port-forward', '--address', '127.0.0.1', 'pod/booking-1', '41003:50071', '41004:50081'],
          undefined,
        ],
        [
          [
            ...k,
            'logs',
            '--follow',
            'booking-1',
            '--container',
            'booking',
            '--since-time=2026-11-25T12:00:00.000Z',
          ],
          'node-logs/booking-2.log',
        ],
        [
          [...k, 'port-forward', '--address', '127.0.0.1', 'pod/booking-2', '41005:50071', '41006:50081'],
          undefined,
        ],
        [
          [
            ...k,
            'logs',
            '--follow',
            'booking-2',
            '--container',
            'booking',
            '--since-time=2026-11-25T12:00:00.000Z',
          ],
          'node-logs/booking-3.log',
        ],
        [[...k, 'port-forward', '--address', '127.0.0.1', 'service/nginx', '41007:50050'], undefined],
      ]);
      expect(backend.nodes()).toEqual(
        [1, 2, 3].map((id) => ({
          id,
          pid: undefined,
          state: 'running',
          partitioned: false,
          clientAddress: `127.0.0.1:${41000 + 2 * id - 1}`,
          peerAddress: `127.0.0.1:${41000 + 2 * id}`,
          database: `booking-${id - 1}: its mariadb sidecar`,
        })),
      );
    } finally {
      await backend.close();
    }
    expect(runner.spawned.every((s) => s.stopped)).toBe(true);
  });

  it('kills by force-deleting the pod, pauses and resumes the node with kill -STOP/-CONT inside it', async () => {
    const { runner } = fakeKubectl();
    const backend = await open(runner);
    try {
      const from = runner.calls.length;
      await expect(backend.kill(3)).resolves.toMatchObject({ state: 'killed' });
      await expect(backend.pause(2)).resolves.toMatchObject({ state: 'paused' });
      await expect(backend.pause(2)).rejects.toThrow(
        new StackOpError(409, 'node 2 is paused: cannot pause it'),
      );
      await expect(backend.resume(2)).resolves.toMatchObject({ state: 'running' });
      expect(runner.argvs(from)).toEqual([
        [...k, 'delete', 'pod', 'booking-2', '--grace-period=0', '--force', '--wait=false'],
        [...k, 'exec', 'booking-1', '--container', 'booking', '--', 'sh', '-c', signalScript('STOP')],
        [...k, 'exec', 'booking-1', '--container', 'booking', '--', 'sh', '-c', signalScript('CONT')],
      ]);
    } finally {
      await backend.close();
    }
  });

  it('restarts by deleting the pod and waiting until its replacement is Ready (a paused node is resumed first)', async () => {
    const { runner, pods } = fakeKubectl();
    const backend = await open(runner);
    try {
      await backend.pause(1);
      const from = runner.calls.length;
      // The StatefulSet brings the pod back after a few polls, first not ready.
      let polls = 0;
      const answer = runner.answer;
      runner.answer = (argv) => {
        if (argv.slice(-5).join(' ') === 'get pod booking-0 --output json') {
          polls++;
          if (polls === 2) pods.set('booking-0', { uid: 'uid-0-b', ready: false });
          if (polls === 4) pods.set('booking-0', { uid: 'uid-0-b', ready: true });
        }
        return answer(argv);
      };
      await expect(backend.restart(1)).resolves.toMatchObject({ id: 1, state: 'running' });
      expect(runner.argvs(from).slice(0, 3)).toEqual([
        [...k, 'exec', 'booking-0', '--container', 'booking', '--', 'sh', '-c', signalScript('CONT')],
        [...k, 'delete', 'pod', 'booking-0', '--wait=true'],
        [...k, 'get', 'pod', 'booking-0', '--output', 'json'],
      ]);
      expect(polls).toBe(4);
    } finally {
      await backend.close();
    }
    // A pod that never comes back.
    const slow = await open(fakeKubectl().runner, { readyTimeoutMs: 20 });
    try {
      await expect(slow.restart(3)).rejects.toThrow('pod booking-2 was not Ready again within 20 ms');
    } finally {
      await slow.close();
    }
  });

  it('partitions with a NetworkPolicy that denies the pod all traffic, found again by a later run, and heals by deleting it', async () => {
    const { runner } = fakeKubectl();
    const backend = await open(runner);
    try {
      const from = runner.calls.length;
      await expect(backend.partition(2)).resolves.toMatchObject({ partitioned: true });
      await expect(backend.partition(2)).rejects.toThrow('node 2 is partitioned already');
      expect(runner.calls.slice(from)).toEqual([
        { argv: [...k, 'apply', '--filename', '-'], input: JSON.stringify(partitionPolicy('booking-1')) },
      ]);
      expect(partitionPolicy('booking-1')).toEqual({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: {
          name: 'marquee-chaos-partition-booking-1',
          labels: { 'app.kubernetes.io/managed-by': 'marquee-chaos', 'marquee-chaos/partition': 'booking-1' },
        },
        spec: {
          podSelector: { matchLabels: { 'statefulset.kubernetes.io/pod-name': 'booking-1' } },
          policyTypes: ['Ingress', 'Egress'],
        },
      });
    } finally {
      await backend.close();
    }
    const later = await open(fakeKubectl(['booking-1']).runner);
    try {
      expect(later.nodes().map((n) => n.partitioned)).toEqual([false, true, false]);
      await expect(later.heal(2)).resolves.toMatchObject({ partitioned: false });
    } finally {
      await later.close();
    }
  });

  it('fails clearly when a port forward never listens', async () => {
    const { runner } = fakeKubectl();
    const backend = new KubernetesBackend(runner, {
      freePort: async () => 41999,
      listening: async () => false,
      forwardTimeoutMs: 20,
      pollMs: 1,
    });
    try {
      await expect(backend.open(dir, logsDir)).rejects.toThrow(
        '127.0.0.1:41999 did not start listening within 20 ms: is the cluster reachable and deploy/k8s applied?',
      );
    } finally {
      await backend.close();
    }
  });

  it('the pause script signals exactly the booking node’s process (checked against a fake /proc)', async () => {
    expect(() => execFileSync('sh', ['-n', '-c', signalScript('STOP')])).not.toThrow();
    const proc = path.join(dir, 'proc');
    // Our own child plays the node; a decoy with another command line must be left alone.
    const node = spawn('sleep', ['30']);
    const decoy = spawn('sleep', ['30']);
    try {
      const fake = (pid: number, cmdline: string[]) => {
        mkdirSync(path.join(proc, String(pid)), { recursive: true });
        writeFileSync(path.join(proc, String(pid), 'cmdline'), `${cmdline.join('\0')}\0`);
      };
      fake(node.pid!, ['node', '--import', 'tsx', 'services/booking/main.ts']);
      fake(decoy.pid!, ['mariadbd', '--user=mysql']);
      const state = (pid: number) => /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      // A state settles within moments (a child may still be starting `sleep`).
      const settled = async (pid: number, expected: string) => {
        for (let i = 0; i < 100 && state(pid) !== expected; i++) await new Promise((r) => setTimeout(r, 5));
        return state(pid);
      };
      await settled(node.pid!, 'S');
      await settled(decoy.pid!, 'S');
      execFileSync('sh', ['-c', signalScript('STOP', proc)]);
      expect([await settled(node.pid!, 'T'), state(decoy.pid!)]).toEqual(['T', 'S']);
      execFileSync('sh', ['-c', signalScript('CONT', proc)]);
      expect(await settled(node.pid!, 'S')).toBe('S');
      rmSync(path.join(proc, String(node.pid)), { recursive: true });
      expect(() => execFileSync('sh', ['-c', signalScript('STOP', proc)], { stdio: 'pipe' })).toThrow(
        /no booking node process in this pod/,
      );
    } finally {
      node.kill('SIGKILL');
      decoy.kill('SIGKILL');
    }
  });
});
