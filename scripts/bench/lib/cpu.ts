import { readFileSync } from 'node:fs';

/** A function reading a process's user+system CPU time in milliseconds. */
export type CpuReader = () => number;

/** This process's own user+system CPU ms. */
export const selfCpuMs: CpuReader = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** User+system CPU ms of another process, from /proc (Linux); NaN elsewhere or once it is gone. */
export function procCpuMs(pid: number): CpuReader {
  const ticksPerSecond = 100; // USER_HZ on Linux
  return () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    } catch {
      return NaN;
    }
  };
}

/**
 * User+system CPU ms of a process and of its children alive at each reading (nginx: the master and
 * its worker, which does the proxying); NaN once the process is gone.
 */
export function procTreeCpuMs(pid: number): CpuReader {
  const own = procCpuMs(pid);
  return () => {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      // no /proc (not Linux), or the process is gone: own() says NaN then
    }
    return children.reduce((sum, child) => sum + (procCpuMs(child)() || 0), own());
  };
}
