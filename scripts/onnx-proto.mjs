// Generates the ONNX protobuf decoder from the committed onnx.proto: protobufjs *static* code (onnx.pb.js, no `eval`,
// so it runs under the app's CSP) and its types (onnx.pb.d.ts). Run at install (`prepare`) into src/formats/onnx/
// (git-ignored), and by build:lib into the compiled package (`node scripts/onnx-proto.mjs dist/lib/formats/onnx`).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, process.argv[2] ?? 'src/formats/onnx');
const bin = (name) => join(root, 'node_modules', '.bin', name);
mkdirSync(out, { recursive: true });
const js = join(out, 'onnx.pb.js');
const run = (cmd, args) => execFileSync(bin(cmd), args, { cwd: root, stdio: 'inherit' });
run('pbjs', [
  '-t',
  'static-module',
  '-w',
  'esm',
  '--no-create',
  '--no-verify',
  '--no-convert',
  '--no-delimited',
  '--no-typeurl',
  '-o',
  js,
  join(root, 'src/formats/onnx/onnx.proto'),
]);
run('pbts', ['-o', join(out, 'onnx.pb.d.ts'), js]);
