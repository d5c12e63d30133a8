import type { ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
} from '../../proto/gen/grpc/health/v1/health';
import type {
  HealthServer,
  HealthCheckRequest,
  HealthCheckResponse,
} from '../../proto/gen/grpc/health/v1/health';
import { NotFoundError } from './errors';
import { adaptService } from './grpc-server';

type StatusName = 'SERVING' | 'NOT_SERVING';

/** Serving status per service name ('' is the whole server), with watchers for Health/Watch. */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<(service: string, status: ServingStatus) => void>();

  constructor(services: string[]) {
    for (const name of ['', ...services]) this.statuses.set(name, ServingStatus.NOT_SERVING);
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  all(): Map<string, ServingStatus> {
    return new Map(this.statuses);
  }

  set(service: string, status: StatusName): void {
    const value = ServingStatus[status];
    this.statuses.set(service, value);
    for (const watcher of this.watchers) watcher(service, value);
  }

  setAll(status: StatusName): void {
    for (const name of [...this.statuses.keys()]) this.set(name, status);
  }

  watch(listener: (service: string, status: ServingStatus) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

export function healthService(
  registry: HealthRegistry,
  logger: Logger,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const unary = adaptService<Pick<HealthServer, 'check' | 'list'>>(
    { check: HealthService.check, list: HealthService.list } as unknown as ServiceDefinition,
    {
      check: async (request: HealthCheckRequest) => {
        const status = registry.get(request.service);
        if (status === undefined) throw new NotFoundError('service', request.service, 'service');
        return { status };
      },
      list: async () => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [name, status] of registry.all()) statuses[name] = { status };
        return { statuses };
      },
    },
    logger,
  );
  const watch = (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void => {
    const service = call.request.service;
    call.write({ status: registry.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
    const stop = registry.watch((name, status) => {
      if (name === service) call.write({ status });
    });
    call.on('cancelled', stop);
    call.on('close', stop);
  };
  return {
    definition: { ...unary.definition, watch: HealthService.watch } as unknown as ServiceDefinition,
    implementation: { ...unary.implementation, watch } as UntypedServiceImplementation,
  };
}
