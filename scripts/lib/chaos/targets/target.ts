import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startControlServer } from '../../stack-control';
import type { StackDescription, StackOps } from '../../stack-control';
import { ETCD_COMMANDS } from '../args';
import type { Command } from '../args';

/*
 * Where the chaos commands run. Every command talks to a stack the same way: <dataDir>/stack.json
 * says where the nodes, the front door and the control API are, and the control API kills, pauses,
 * restarts, partitions and heals nodes (scripts/lib/stack-control.ts). `npm start` provides both for
 * the local stack. For Compose and Kubernetes a NodeBackend does the faults with docker or kubectl,
 * and the target serves the same control API in this process, backed by it, for as long as the
 * command runs: commands, session, observer, workload and timeline stay exactly as they are.
 */

export type TargetName = 'local' | 'compose' | 'k8s';
export const TARGET_NAMES: readonly TargetName[] = ['local', 'compose', 'k8s'];

export interface Attached {
  detach(): Promise<void>;
}

export interface ChaosTarget {
  readonly name: TargetName;
  /** Where stack.json, logs and state live when --data-dir is not given. */
  readonly defaultDataDir: string;
  /** Why `command` cannot run against this target; undefined when it can. */
  unsupported(command: Command): string | undefined;
  /** Makes <dataDir>/stack.json describe the target and a control API drive it, until detach(). */
  attach(dataDir: string): Promise<Attached>;
}

/** What a backend tells stack.json: all but the nodes, the control URL and logsDir (the target picks it). */
export type TargetDescription = Omit<StackDescription, 'controlUrl' | 'nodes' | 'logsDir'>;

/**
 * The faults, done to a stack that is not ours to run: StackOps (kill, pause, resume, restart,
 * partition, heal, nodes) plus finding the nodes first and letting go of them after.
 */
export interface NodeBackend extends StackOps {
  /** Finds the nodes, opens local addresses for them, starts following their logs into `logsDir`. */
  open(dataDir: string, logsDir: string): Promise<TargetDescription>;
  close(): Promise<void>;
}

/** The stack `npm start` runs: it wrote stack.json and serves the control API itself. */
export class LocalTarget implements ChaosTarget {
  readonly name = 'local';
  readonly defaultDataDir = '.data/local';

  unsupported(): string | undefined {
    return undefined;
  }

  /** Nothing to do: `npm start` keeps stack.json and the control API up while it runs. */
  async attach(): Promise<Attached> {
    return { detach: async () => undefined };
  }
}

/** etcd faults go through npm start's control API, which runs the private etcd it faults. */
const ETCD_LOCAL_ONLY =
  'etcd faults are driven through the control API of npm start, which runs the etcd it faults';

/** The soak's final check reads every node's database directly; only the local stack offers that. */
const SOAK_LOCAL_ONLY =
  "the soak checks its invariants in every node's own database, which only the local stack (npm start) exposes";

/** Compose or Kubernetes: a NodeBackend behind the control API, served here while a command runs. */
export class BackendTarget implements ChaosTarget {
  constructor(
    readonly name: Exclude<TargetName, 'local'>,
    private readonly backend: NodeBackend,
  ) {}

  get defaultDataDir(): string {
    return `.data/${this.name}`;
  }

  unsupported(command: Command): string | undefined {
    if (command === 'soak') return SOAK_LOCAL_ONLY;
    return ETCD_COMMANDS.includes(command) ? ETCD_LOCAL_ONLY : undefined;
  }

  async attach(dataDir: string): Promise<Attached> {
    // Decided here once: the backend relays the nodes' logs into it and stack.json tells the session.
    const logsDir = path.resolve(dataDir, 'logs');
    mkdirSync(logsDir, { recursive: true });
    let description: TargetDescription;
    try {
      description = await this.backend.open(dataDir, logsDir);
    } catch (error) {
      await this.backend.close();
      throw error;
    }
    let control: { stop(): Promise<void> };
    try {
      control = await startControlServer(this.backend, dataDir, { ...description, logsDir });
    } catch (error) {
      await this.backend.close();
      throw error;
    }
    let detached: Promise<void> | undefined;
    return {
      detach: () =>
        (detached ??= (async () => {
          await control.stop();
          await this.backend.close();
        })()),
    };
  }
}
