/*
 * The chaos CLI's arguments, parsed purely: a command, its node, and options. Any mistake becomes a
 * UsageError whose message names the problem; the CLI prints it with the usage text and exits 1.
 */

export const USAGE = `usage: npm run chaos -- <command> [options]

commands (against the stack \`npm start\` runs; it writes <data-dir>/stack.json):
  status                     each node's process state, role, term, master and Lamport clock
  kill-master                SIGKILL the master, watch the failover (the node stays down)
  pause-master [--ms N]      SIGSTOP the master for N ms (default 1500), then SIGCONT
  partition <node>           cut a node off from its peers (it stays cut off)
  heal [<node>]              heal one node's partition, or every partition
  restart <node>             stop (if running) and start a node again
  soak [--cycles N]          drive bookings while killing, pausing and partitioning the master
                             N times each (default 3), then check the invariants
  kill-etcd [--ms N]         SIGKILL the booking group's etcd and watch writes go on for N ms
                             (default 5000); etcd stays down (restart-etcd brings it back)
  pause-etcd [--ms N]        SIGSTOP etcd for N ms (default 5000), then SIGCONT
  restart-etcd               start etcd again (or stop and start it), watch the lease taken back

options:
  --workers N                concurrent booking clients (default 2; soak 4; 0 = no writes)
  --pause-ms N               soak: how long each pause lasts (default 1500)
  --data-dir DIR             the stack's data directory (default .data/local)
  --out DIR                  where timeline pictures go (default .data/chaos)`;

export type Command =
  | 'status'
  | 'kill-master'
  | 'pause-master'
  | 'partition'
  | 'heal'
  | 'restart'
  | 'soak'
  | 'kill-etcd'
  | 'pause-etcd'
  | 'restart-etcd';

/** The commands that fault the booking group's etcd (npm start's private one) instead of a node. */
export const ETCD_COMMANDS: readonly Command[] = ['kill-etcd', 'pause-etcd', 'restart-etcd'];

export interface ChaosArgs {
  command: Command;
  node?: number;
  cycles: number;
  workers: number;
  pauseMs: number;
  dataDir: string;
  outDir: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const COMMANDS: readonly Command[] = [
  'status',
  'kill-master',
  'pause-master',
  'partition',
  'heal',
  'restart',
  'soak',
  ...ETCD_COMMANDS,
];

/** Which commands take a node: required, optional, or none. */
const NODE_ARG: Readonly<Record<Command, 'required' | 'optional' | 'none'>> = {
  status: 'none',
  'kill-master': 'none',
  'pause-master': 'none',
  partition: 'required',
  heal: 'optional',
  restart: 'required',
  soak: 'none',
  'kill-etcd': 'none',
  'pause-etcd': 'none',
  'restart-etcd': 'none',
};

const OPTIONS: Readonly<Record<string, readonly Command[] | 'all'>> = {
  '--cycles': ['soak'],
  '--workers': [
    'kill-master',
    'pause-master',
    'partition',
    'soak',
    'kill-etcd',
    'pause-etcd',
    'restart-etcd',
  ],
  '--ms': ['pause-master', 'kill-etcd', 'pause-etcd'],
  '--pause-ms': ['soak'],
  '--data-dir': 'all',
  '--out': 'all',
};

export function parseArgs(argv: readonly string[]): ChaosArgs {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (!(COMMANDS as readonly string[]).includes(first))
    throw new UsageError(`unknown command ${JSON.stringify(first)} (one of: ${COMMANDS.join(', ')})`);
  const command = first as Command;
  const args: ChaosArgs = {
    command,
    cycles: 3,
    workers: command === 'soak' ? 4 : 2,
    pauseMs: command === 'kill-etcd' || command === 'pause-etcd' ? 5000 : 1500,
    dataDir: '.data/local',
    outDir: '.data/chaos',
  };
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const allowed = OPTIONS[name];
    if (allowed === undefined) throw new UsageError(`unknown option ${name}`);
    if (allowed !== 'all' && !allowed.includes(command))
      throw new UsageError(`${name} does not apply to ${command}`);
    const value = inline ?? rest[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (name === '--data-dir') args.dataDir = value;
    else if (name === '--out') args.outDir = value;
    else if (name === '--cycles') args.cycles = integer(name, value, 1);
    else if (name === '--workers') args.workers = integer(name, value, 0);
    else args.pauseMs = integer(name, value, 1);
  }
  const need = NODE_ARG[command];
  if (positional.length > (need === 'none' ? 0 : 1))
    throw new UsageError(
      `${command}: unexpected argument ${JSON.stringify(positional[need === 'none' ? 0 : 1])}`,
    );
  if (need === 'required' && positional.length === 0)
    throw new UsageError(`${command}: which node? (e.g. ${command} 3)`);
  if (positional[0] !== undefined) args.node = integer('node', positional[0], 1);
  return args;
}

function integer(name: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`${name}: must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return Number(value);
}
