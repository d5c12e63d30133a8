import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { startProcess, waitForPort } from './processes';
import type { ManagedProcess } from './processes';

export interface PrivateEtcd {
  /** Client URL, e.g. http://127.0.0.1:23790 (what EtcdLease and etcdctl take). */
  endpoint: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

function findEtcd(): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin']) {
    const candidate = path.join(dir, 'etcd');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('etcd not found: run ./scripts/setup.sh (it installs etcd-server)');
}

/**
 * Starts a private single-member etcd with its data under `dataDir`, listening on 127.0.0.1 only.
 * Resolves once a read succeeds: etcd accepts TCP before its raft member has elected itself, and a
 * lease granted before that would be refused.
 */
export async function startPrivateEtcd(options: {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  logFile: string;
  /** Member name; also names the one-member cluster. Default "marquee". */
  name?: string;
  readyTimeoutMs?: number;
}): Promise<PrivateEtcd> {
  const name = options.name ?? 'marquee';
  const clientUrl = `http://127.0.0.1:${options.clientPort}`;
  const peerUrl = `http://127.0.0.1:${options.peerPort}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20000;
  mkdirSync(path.dirname(options.dataDir), { recursive: true });
  const etcd = startProcess(
    'etcd',
    findEtcd(),
    [
      '--name',
      name,
      '--data-dir',
      options.dataDir,
      '--listen-client-urls',
      clientUrl,
      '--advertise-client-urls',
      clientUrl,
      '--listen-peer-urls',
      peerUrl,
      '--initial-advertise-peer-urls',
      peerUrl,
      '--initial-cluster',
      `${name}=${peerUrl}`,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      `marquee-${options.clientPort}`,
      '--logger',
      'zap',
      '--log-level',
      'warn',
    ],
    // Never inherit ETCD_* variables: etcd reads its flags from them too, and a stray one from the
    // environment would silently change the cluster it builds.
    {
      logFile: options.logFile,
      env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD'))),
    },
  );
  try {
    const deadline = Date.now() + readyTimeoutMs;
    await waitForPort('127.0.0.1', options.clientPort, readyTimeoutMs, etcd.exited);
    await waitForRead(clientUrl, deadline);
  } catch (error) {
    await etcd.stop('SIGKILL');
    throw new Error(`etcd did not become ready (log: ${options.logFile}): ${(error as Error).message}`);
  }
  return {
    endpoint: clientUrl,
    process: etcd,
    stop: async () => {
      // A SIGSTOPped etcd (chaos tests) would ignore SIGTERM until the grace period ran out.
      try {
        process.kill(etcd.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await etcd.stop('SIGTERM', 5000);
    },
  };
}

async function waitForRead(endpoint: string, deadline: number): Promise<void> {
  const client = new Etcd3({
    hosts: endpoint,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 1000 }),
  });
  try {
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        await client.get('/marquee/ready-probe').string();
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error(`no successful read from ${endpoint}: ${String(lastError)}`);
  } finally {
    client.close();
  }
}
