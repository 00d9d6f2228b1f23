// npm run models [-- --model ID ... | --all] [--from DIR]: install catalog models into models/<id>/ (src/node/install.ts).
// Source order per file: the mirror (--from, else MODELS_MIRROR, else ../shared/models when it exists), then the
// catalog's URLs. Every file is checked against its sha256.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultMirror, installModels, InstallError } from '../src/node/install.ts';

const ROOT = resolve(import.meta.dirname, '..');
const USAGE = `usage: npm run models [-- [--model ID]... | --all] [--from MIRROR_DIR]
  default: the catalog's default model, plus every catalog model present in the mirror
  mirror:  --from DIR, else $MODELS_MIRROR, else ../shared/models (if it exists); layout DIR/<id>/<file>`;

let args;
try {
  args = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  }).values;
} catch (e) {
  console.error(`models: ${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.all && args.model?.length) {
  console.error(`models: --all and --model exclude each other\n${USAGE}`);
  process.exit(2);
}

const given = args.from ?? process.env.MODELS_MIRROR;
const mirror = given ? resolve(given) : defaultMirror(ROOT);
try {
  await installModels({ root: ROOT, mirror, ids: args.model, all: args.all, log: (l) => console.log(l) });
} catch (e) {
  if (!(e instanceof InstallError)) throw e;
  console.error(`models: ${e.message}`);
  process.exit(1);
}
