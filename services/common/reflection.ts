import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerDuplexStream, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { FileDescriptorProto } from 'ts-proto-descriptors';
import type { DescriptorProto, FieldDescriptorProto } from 'ts-proto-descriptors';
import * as v1 from '../../proto/gen/grpc/reflection/v1/reflection';
import * as v1alpha from '../../proto/gen/grpc/reflection/v1alpha/reflection';

/**
 * gRPC server reflection (v1 and v1alpha) served from the FileDescriptorSet that protoc wrote next to
 * the generated code. Serving protoc's own descriptors (real file names, fully-qualified type names,
 * dependency lists) is what grpcurl and buf curl need; descriptors rebuilt at run time are not.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly encoded = new Map<string, Uint8Array>();
  private readonly fileOfSymbol = new Map<string, string>();
  private readonly messages = new Map<string, DescriptorProto>();
  /** gRPC path (/pkg.Service/Method) → fully-qualified input type. */
  private readonly inputOf = new Map<string, string>();
  readonly serviceNames: string[] = [];

  constructor(setBytes: Uint8Array) {
    for (const bytes of fileDescriptorBytes(setBytes)) {
      const file = FileDescriptorProto.decode(bytes);
      this.files.set(file.name, file);
      this.encoded.set(file.name, bytes);
      const prefix = file.package ? `${file.package}.` : '';
      for (const message of file.messageType) this.indexMessage(prefix, message, file.name);
      for (const enumType of file.enumType) this.fileOfSymbol.set(prefix + enumType.name, file.name);
      for (const service of file.service) {
        const name = prefix + service.name;
        this.serviceNames.push(name);
        this.fileOfSymbol.set(name, file.name);
        for (const method of service.method) {
          this.fileOfSymbol.set(`${name}.${method.name}`, file.name);
          this.inputOf.set(`/${name}/${method.name}`, method.inputType.replace(/^\./, ''));
        }
      }
    }
  }

  private indexMessage(prefix: string, message: DescriptorProto, fileName: string): void {
    const name = prefix + message.name;
    this.fileOfSymbol.set(name, fileName);
    this.messages.set(name, message);
    for (const nested of message.nestedType) this.indexMessage(`${name}.`, nested, fileName);
    for (const enumType of message.enumType) this.fileOfSymbol.set(`${name}.${enumType.name}`, fileName);
  }

  /** The named file and every file it imports, transitively, each encoded once. */
  fileWithDependencies(fileName: string): Uint8Array[] | undefined {
    if (!this.files.has(fileName)) return undefined;
    const seen = new Set<string>();
    const order: string[] = [];
    const visit = (name: string): void => {
      if (seen.has(name)) return;
      seen.add(name);
      order.push(name);
      for (const dependency of this.files.get(name)?.dependency ?? []) visit(dependency);
    };
    visit(fileName);
    return order.flatMap((name) => {
      const bytes = this.encoded.get(name);
      return bytes ? [bytes] : [];
    });
  }

  /** The fields of a method's request message, by gRPC path; undefined for a method not described. */
  requestFields(path: string): FieldDescriptorProto[] | undefined {
    const input = this.inputOf.get(path);
    return input === undefined ? undefined : this.messages.get(input)?.field;
  }

  fileContainingSymbol(symbol: string): string | undefined {
    return this.fileOfSymbol.get(symbol.replace(/^\./, ''));
  }
}

/**
 * The bytes of each FileDescriptorProto in a FileDescriptorSet exactly as protoc wrote them
 * (field 1, length-delimited). Re-encoding a decoded descriptor loses details real clients check.
 */
function fileDescriptorBytes(setBytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(setBytes);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

let sharedIndex: DescriptorIndex | undefined;

export function descriptorIndex(): DescriptorIndex {
  sharedIndex ??= new DescriptorIndex(
    readFileSync(path.join(__dirname, '../../proto/gen/descriptor-set.bin')),
  );
  return sharedIndex;
}

/**
 * Peer-to-peer services of the booking group (election, replication) are described by every server
 * (their files are in the descriptor set) but not listed in the whole-mesh listing: the front door
 * does not route them, so listing them there would advertise calls that cannot succeed.
 */
function isPeerOnly(serviceName: string): boolean {
  return serviceName.startsWith('marquee.cluster.');
}

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

const NOT_FOUND = 5;

/** Answers one reflection request. `listed` limits list_services; undefined lists every service. */
export function answerReflection(
  index: DescriptorIndex,
  request: Request,
  listed: string[] | undefined,
): Response {
  const base = { validHost: request.host, originalRequest: request };
  const notFound = (message: string): Response => ({
    ...base,
    messageResponse: { $case: 'errorResponse', value: { errorCode: NOT_FOUND, errorMessage: message } },
  });
  const files = (name: string | undefined, what: string): Response => {
    const bytes = name === undefined ? undefined : index.fileWithDependencies(name);
    if (!bytes) return notFound(`${what} not found`);
    return {
      ...base,
      messageResponse: {
        $case: 'fileDescriptorResponse',
        value: { fileDescriptorProto: bytes.map(Buffer.from) },
      },
    };
  };
  const query = request.messageRequest;
  switch (query?.$case) {
    case 'listServices': {
      const names = listed ?? index.serviceNames.filter((name) => !isPeerOnly(name));
      return {
        ...base,
        messageResponse: {
          $case: 'listServicesResponse',
          value: { service: names.map((name) => ({ name })) },
        },
      };
    }
    case 'fileByFilename':
      return files(query.value, `file ${query.value}`);
    case 'fileContainingSymbol':
      return files(index.fileContainingSymbol(query.value), `symbol ${query.value}`);
    case 'fileContainingExtension':
      return notFound(`no extensions of ${query.value.containingType}`);
    case 'allExtensionNumbersOfType':
      return {
        ...base,
        messageResponse: {
          $case: 'allExtensionNumbersResponse',
          value: { baseTypeName: query.value, extensionNumber: [] },
        },
      };
    default:
      return notFound('empty reflection request');
  }
}

/** Reflection v1 and v1alpha services; `ownServices` are listed along with health and reflection. */
export function reflectionServices(
  ownServices: string[] | undefined,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[] {
  const index = descriptorIndex();
  const listed = ownServices && [
    ...ownServices,
    'grpc.health.v1.Health',
    'grpc.reflection.v1.ServerReflection',
    'grpc.reflection.v1alpha.ServerReflection',
  ];
  const handle = (call: ServerDuplexStream<Request, Response>): void => {
    call.on('data', (request: Request) => call.write(answerReflection(index, request, listed)));
    call.on('end', () => call.end());
    call.on('error', () => call.end());
  };
  return [
    {
      definition: v1.ServerReflectionService as unknown as ServiceDefinition,
      implementation: { serverReflectionInfo: handle },
    },
    {
      definition: v1alpha.ServerReflectionService as unknown as ServiceDefinition,
      implementation: { serverReflectionInfo: handle },
    },
  ];
}
