import path from 'node:path';
import type { TargetArgs } from './args';
import { ComposeBackend } from './compose';
import { KubernetesBackend } from './k8s';
import type { CommandRunner } from './runner';
import { BackendTarget, LocalTarget } from './target';
import type { ChaosTarget } from './target';

/** The target the CLI's --target names, with its options; relative files resolve against `cwd`. */
export function createTarget(args: TargetArgs, runner: CommandRunner, cwd: string): ChaosTarget {
  switch (args.target) {
    case 'local':
      return new LocalTarget();
    case 'compose':
      return new BackendTarget(
        'compose',
        new ComposeBackend(runner, { file: path.resolve(cwd, args.composeFile), project: args.project }),
      );
    case 'k8s':
      return new BackendTarget(
        'k8s',
        new KubernetesBackend(runner, { namespace: args.namespace, context: args.context }),
      );
  }
}
