/**
 * Exits 0 when the gRPC server at the given address (argv or MARQUEE_HEALTH_ADDR) answers health
 * SERVING within 2 s, 1 otherwise. Used by the container HEALTHCHECK.
 */
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../proto/gen/grpc/health/v1/health';

const address = process.argv[2] ?? process.env.MARQUEE_HEALTH_ADDR ?? '127.0.0.1:50061';
const client = new HealthClient(address, grpc.credentials.createInsecure());
client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (error, response) => {
  client.close();
  if (error || response.status !== ServingStatus.SERVING) {
    process.stderr.write(`${address}: ${error ? error.message : ServingStatus[response.status]}\n`);
    process.exit(1);
  }
  process.exit(0);
});
