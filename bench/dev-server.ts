/**
 * `wrangler dev` for benchmarks, started through wrangler's own API so the DevTools inspector can
 * be left out: `npx tsx bench/dev-server.ts --port 8797 --persist-to DIR [--no-inspector]`.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { unstable_startWorker } from 'wrangler';
import { ROOT } from './local';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8797' },
    'persist-to': { type: 'string' },
    'no-inspector': { type: 'boolean', default: false },
  },
});

const worker = await unstable_startWorker({
  config: path.join(ROOT, 'wrangler.toml'),
  dev: {
    server: { hostname: '127.0.0.1', port: Number(values.port) },
    persist: values['persist-to'],
    logLevel: 'warn',
    watch: false,
    ...(values['no-inspector'] ? { inspector: false as const } : {}),
  },
});
await worker.ready;
process.stderr.write(`dev server ready on ${values.port}\n`);
const stop = () => void worker.dispose().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
