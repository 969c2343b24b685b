/* eslint-disable @typescript-eslint/no-explicit-any -- WeCom answers are read loosely and asserted with expect(), as in the tests */
/** Helpers for the simulator's own unit tests: a frozen-clock simulator, a seeded corp, a WeCom caller. */
import { createWecomSim, type WecomSimOptions } from './app';
import { SimClock } from './clock';
import { type SeedOptions } from './seed';

export const T0 = Date.UTC(2026, 11, 7, 9, 0, 30);

export function setup(opts: WecomSimOptions = {}, seed: SeedOptions = {}) {
  const clock = new SimClock(T0);
  const sim = createWecomSim({ clock, ...opts });
  const corp = sim.seed({ corpid: 'wwtest', seed: 'unit', followUsers: 4, contacts: 60, chats: 3, ...seed });
  /** Calls the simulator like a WeCom client: GET without a body, POST with JSON. */
  const call = async (path: string, body?: unknown): Promise<any> => {
    const res = await sim.app.request(`http://wecom.test${path}`, {
      method: body !== undefined ? 'POST' : 'GET',
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return res.json();
  };
  const token = async (secret = corp.contactSecret): Promise<string> => {
    const r = await call(`/cgi-bin/gettoken?corpid=${corp.corpid}&corpsecret=${secret}`);
    if (r.errcode !== 0) throw new Error(`gettoken: ${r.errcode}`);
    return r.access_token;
  };
  /** A WeCom API call with a fresh (or given) 客户联系 token. */
  const wecom = async (api: string, body?: unknown, t?: string, query = ''): Promise<any> =>
    call(`/cgi-bin/${api}?access_token=${t ?? (await token())}${query}`, body);
  const admin = async (path: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> => {
    const res = await sim.app.request(`http://wecom.test/__sim${path}`, {
      method: method ?? (body !== undefined ? 'POST' : 'GET'),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  return { sim, clock, corp, call, token, wecom, admin };
}
