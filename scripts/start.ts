/**
 * `npm start`'s last step (after build and db:setup): the app and a local WeCom with a demo corp,
 * as one command. Starts
 * - the WeCom simulator (tools/wecom-sim/serve.ts) on 127.0.0.1:8790 with the demo corp
 *   `wwsegflowdemo0001` seeded, pushing its callbacks to the app's WeCom source `wecom-demo`
 *   (Token and EncodingAESKey below: enter them when creating that source), and
 * - `npm run dev` (wrangler dev on 127.0.0.1:8787) with WECOM_API_BASE pointed at the simulator,
 * and stops both when either ends or on Ctrl-C. The simulator's `GET /__sim` shows the demo
 * corp's secrets (README, "Try WeCom locally").
 *
 * wrangler dev does not run Cron Triggers by itself, so this fires the app's (`/__scheduled`,
 * `--test-scheduled`) at the start of every minute, as Cloudflare would: scheduled rules, segment
 * snapshots, alerts, publish plans and pushes to WeCom happen locally as they would deployed.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const SIM_PORT = Number(process.env.WECOM_SIM_PORT ?? 8790);
export const APP_PORT = 8787;
/** The demo corp's callback settings (not secrets: a local simulator's demo values). */
export const DEMO_SOURCE_ID = 'wecom-demo';
export const DEMO_CALLBACK_TOKEN = 'segflowDemoToken';
export const DEMO_CALLBACK_AES_KEY = 'segflowDemoCallbackAesKey0123456789abcdefgh';

const children: ChildProcess[] = [];
let ticker: NodeJS.Timeout | undefined;
let stopping = false;

function run(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // its own process group, so stopping it stops what it started too (npm → wrangler → workerd)
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: 'inherit', detached: true });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.warn(`start: ${name} ended (${signal ?? `exit ${code}`}); stopping the rest`);
      stop(code ?? 1);
    }
  });
  return child;
}

/** Signals a child's whole process group (it may be gone already). */
function signal(c: ChildProcess, sig: NodeJS.Signals) {
  try {
    if (c.pid) process.kill(-c.pid, sig);
  } catch {
    // the group has ended
  }
}

function stop(code: number) {
  if (stopping) return;
  stopping = true;
  clearTimeout(ticker);
  for (const c of children) signal(c, 'SIGTERM');
  // the groups get 5 s to end (wrangler stops workerd), then whatever is left is killed
  setTimeout(() => {
    for (const c of children) signal(c, 'SIGKILL');
    process.exit(code);
  }, 5_000);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

run('the WeCom simulator', 'node_modules/.bin/tsx', ['tools/wecom-sim/serve.ts', String(SIM_PORT)], {
  WECOM_SIM_CALLBACK_URL: `http://127.0.0.1:${APP_PORT}/api/webhooks/wecom/${DEMO_SOURCE_ID}`,
  WECOM_SIM_CALLBACK_TOKEN: DEMO_CALLBACK_TOKEN,
  WECOM_SIM_CALLBACK_AES_KEY: DEMO_CALLBACK_AES_KEY,
});
run('wrangler dev', 'npm', ['run', 'dev', '--', '--var', `WECOM_API_BASE:http://127.0.0.1:${SIM_PORT}`], {});

/** One Cron Trigger run at the start of each minute; a tick missed while wrangler starts is skipped. */
function tickEveryMinute() {
  ticker = setTimeout(
    () => {
      fetch(`http://127.0.0.1:${APP_PORT}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)
        .then(async (res) => {
          if (!res.ok) console.warn(`start: the Cron Trigger answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
        })
        .catch(() => {
          // wrangler dev is not listening yet (or is reloading): the next minute tries again
        })
        .finally(() => {
          if (!stopping) tickEveryMinute();
        });
    },
    60_000 - (Date.now() % 60_000),
  );
}
tickEveryMinute();
