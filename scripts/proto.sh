#!/usr/bin/env bash
# Regenerates the TypeScript for every .proto under proto/ with Debian's protoc and ts-proto,
# plus the FileDescriptorSet that the reflection service serves. Output goes to proto/gen
# (or to the directory given as $1, which the staleness test uses).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${1:-proto/gen}"
rm -rf "$out" && mkdir -p "$out"
out="$(cd "$out" && pwd)"
mapfile -t files < <(cd proto && find marquee grpc -name '*.proto' | LC_ALL=C sort)
(cd proto && protoc \
  --plugin=protoc-gen-ts_proto="$root/node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,env=node,forceLong=number,useOptionals=none,oneof=unions-value \
  --include_imports --descriptor_set_out="$out/descriptor-set.bin" \
  "${files[@]}")
echo "proto: generated ${#files[@]} files into $out"
