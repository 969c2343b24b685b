/**
 * The local WeCom simulator as a Node server, for the demo (`npm start` will start it) and for
 * benches: `npx tsx tools/wecom-sim/serve.ts [port]` (or WECOM_SIM_PORT; default 8790).
 *
 * It seeds the demo corp (DEMO_CORP_ID, deterministic from WECOM_SIM_SEED) and pushes callbacks
 * to the corp's callback URL as WeCom does. The URL, Token and EncodingAESKey come from the
 * admin API (PUT /__sim/corps/:corpid/callback), or at start from WECOM_SIM_CALLBACK_URL,
 * WECOM_SIM_CALLBACK_TOKEN and WECOM_SIM_CALLBACK_AES_KEY. Frequency limits are WeCom's
 * documented ones unless WECOM_SIM_LIMITS=none. It listens on 127.0.0.1 only.
 */
import { serve } from '@hono/node-server';
import { createWecomSim } from './app';
import { WECOM_DOCUMENTED_LIMITS } from './rate-limit';
import { DEMO_CORP_ID } from './seed';

const env = process.env;
const port = Number(process.argv[2] ?? env.WECOM_SIM_PORT ?? 8790);
const sim = createWecomSim({ delivery: 'push', limits: env.WECOM_SIM_LIMITS === 'none' ? {} : WECOM_DOCUMENTED_LIMITS });
const corp = sim.seed({
  corpid: env.WECOM_SIM_CORP_ID ?? DEMO_CORP_ID,
  seed: env.WECOM_SIM_SEED ?? 'segflow-demo',
  followUsers: Number(env.WECOM_SIM_FOLLOW_USERS ?? 8),
  contacts: Number(env.WECOM_SIM_CONTACTS ?? 300),
  chats: Number(env.WECOM_SIM_CHATS ?? 12),
});
if (env.WECOM_SIM_CALLBACK_URL && env.WECOM_SIM_CALLBACK_TOKEN && env.WECOM_SIM_CALLBACK_AES_KEY) {
  corp.callback = { url: env.WECOM_SIM_CALLBACK_URL, token: env.WECOM_SIM_CALLBACK_TOKEN, encodingAesKey: env.WECOM_SIM_CALLBACK_AES_KEY };
}

serve({ fetch: sim.app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  const s = sim.summary(corp);
  console.warn(
    [
      `wecom-sim: WeCom API at http://127.0.0.1:${info.port}/cgi-bin/, admin at /__sim/`,
      `  demo corp ${s.corpid} (${s.name}): ${s.counts.followUsers} follow users, ${s.counts.contacts} customers, ${s.counts.tags} corp tags, ${s.counts.chats} group chats`,
      `  客户联系 secret: ${s.contactSecret}; self-built app ${s.agents[0]?.agentid} secret: ${s.agents[0]?.secret}`,
      `  callbacks: ${corp.callback ? `pushed to ${corp.callback.url} (Token ${corp.callback.token}, EncodingAESKey ${corp.callback.encodingAesKey})` : 'none until PUT /__sim/corps/:corpid/callback'}`,
      `  all of this again: GET http://127.0.0.1:${info.port}/__sim (README, "Try WeCom locally")`,
    ].join('\n'),
  );
});
