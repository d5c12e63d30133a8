import { BinaryReader } from '@bufbuild/protobuf/wire';
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type } from 'ts-proto-descriptors';
import type { FieldDescriptorProto } from 'ts-proto-descriptors';

/*
 * Why this exists: a protobuf decoder skips a known field that arrives with the wrong wire type
 * (`show_id` sent as a varint) as if it were unknown, so the handler sees the field empty and says
 * "show_id: is required" — true of what it got, misleading about what was sent. Scanning the
 * request's top-level tags against the method's descriptor names the real problem.
 */

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'group start', 'group end', '32-bit'];

const VARINT_TYPES = new Set([
  Type.TYPE_INT32,
  Type.TYPE_INT64,
  Type.TYPE_UINT32,
  Type.TYPE_UINT64,
  Type.TYPE_SINT32,
  Type.TYPE_SINT64,
  Type.TYPE_BOOL,
  Type.TYPE_ENUM,
]);
const FIXED64_TYPES = new Set([Type.TYPE_DOUBLE, Type.TYPE_FIXED64, Type.TYPE_SFIXED64]);
const FIXED32_TYPES = new Set([Type.TYPE_FLOAT, Type.TYPE_FIXED32, Type.TYPE_SFIXED32]);

/** The wire type a field's values are written with (packed repeated scalars also accept 2). */
export function expectedWireType(type: Type): number {
  if (VARINT_TYPES.has(type)) return 0;
  if (FIXED64_TYPES.has(type)) return 1;
  if (FIXED32_TYPES.has(type)) return 5;
  if (type === Type.TYPE_GROUP) return 3;
  return 2; // string, bytes, message
}

function accepts(field: FieldDescriptorProto, wireType: number): boolean {
  const expected = expectedWireType(field.type);
  if (wireType === expected) return true;
  // A repeated scalar may come packed (one length-delimited run) or one value per tag.
  return field.label === Label.LABEL_REPEATED && expected !== 2 && expected !== 3 && wireType === 2;
}

function typeName(field: FieldDescriptorProto): string {
  if (field.type === Type.TYPE_MESSAGE || field.type === Type.TYPE_ENUM)
    return field.typeName.replace(/^\./, '');
  return Type[field.type].replace(/^TYPE_/, '').toLowerCase();
}

/**
 * The first top-level field of `bytes` that a field of `fields` describes but whose wire type does not
 * fit it, as {field, problem}; undefined when every known field fits (unknown fields are left alone,
 * as protobuf wants). Bytes that do not even parse are left for the decoder to report.
 */
export function misencodedField(
  bytes: Uint8Array,
  fields: readonly FieldDescriptorProto[],
): { field: string; problem: string } | undefined {
  const byNumber = new Map(fields.map((f) => [f.number, f]));
  const reader = new BinaryReader(bytes);
  try {
    while (reader.pos < reader.len) {
      const [number, wireType] = reader.tag();
      const field = byNumber.get(number);
      if (field && !accepts(field, wireType))
        return {
          field: field.name,
          problem:
            `could not be decoded: field ${number} was sent as ${WIRE_NAMES[wireType] ?? `wire type ${wireType}`} ` +
            `(wire type ${wireType}), but it is a ${typeName(field)}, sent as ` +
            `${WIRE_NAMES[expectedWireType(field.type)]} (wire type ${expectedWireType(field.type)})`,
        };
      reader.skip(wireType);
    }
  } catch {
    // Not protobuf at all: the decoder's own error says more than we could.
    return undefined;
  }
  return undefined;
}
