import { describe, expect, it } from 'vitest';
import { WECOM_DOCUMENTED_LIMITS } from './rate-limit';
import { setup, T0 } from './test-kit';

const api = 'externalcontact/get_follow_user_list';

describe('frequency limits (「主动调用频率限制」, 45009)', () => {
  it('trips at the configured number per minute, refuses for a minute from the trip, then serves again', async () => {
    const { wecom, token, clock } = setup({ limits: { perApi: { perMinute: 3 } } });
    const t = await token();
    for (let i = 0; i < 3; i++) expect((await wecom(api, undefined, t)).errcode).toBe(0);
    const refused = await wecom(api, undefined, t);
    expect(refused.errcode).toBe(45009);
    expect(refused.errmsg).toMatch(/^api freq out of limit/);
    // T0 is 30 s into its minute: the next calendar minute starts in 30 s, but the block lasts 60 s from the trip
    clock.advance(30_000);
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    clock.advance(29_999);
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    clock.advance(1);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
  });

  it('counts each API apart, and per corp', async () => {
    const { wecom, token, sim } = setup({ limits: { perApi: { perMinute: 2 } } });
    const t = await token();
    await wecom(api, undefined, t);
    await wecom(api, undefined, t);
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    expect((await wecom('externalcontact/get_corp_tag_list', {}, t)).errcode).toBe(0);
    const other = sim.seed({ corpid: 'wwother', contacts: 3 });
    const t2 = sim.token(other, 'contact').access_token;
    expect((await wecom(api, undefined, t2)).errcode).toBe(0);
  });

  it('does not count refused calls: a client that waits out the block gets its full minute back', async () => {
    const { wecom, token, clock } = setup({ limits: { perApi: { perMinute: 2 } } });
    const t = await token();
    await wecom(api, undefined, t);
    await wecom(api, undefined, t);
    for (let i = 0; i < 5; i++) expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    clock.advance(60_000);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
  });

  it('has an hourly limit too, blocking for an hour', async () => {
    const { wecom, token, clock } = setup({ limits: { perApi: { perMinute: 100, perHour: 4 } } });
    clock.set(T0 - (T0 % 3_600_000));
    const t = await token();
    for (let i = 0; i < 4; i++) {
      expect((await wecom(api, undefined, t)).errcode).toBe(0);
      clock.advance(61_000);
    }
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    clock.advance(59 * 60_000);
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    clock.advance(60_000);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
  });

  it('takes per-API limits over the default, set per corp through the admin API', async () => {
    const { wecom, token, admin } = setup();
    await admin('/corps/wwtest/limits', { apis: { 'externalcontact/mark_tag': { perMinute: 1 } } }, 'PUT');
    const t = await token();
    for (let i = 0; i < 5; i++) expect((await wecom(api, undefined, t)).errcode).toBe(0);
    expect((await wecom('externalcontact/mark_tag', {}, t)).errcode).not.toBe(45009);
    expect((await wecom('externalcontact/mark_tag', {}, t)).errcode).toBe(45009);
  });

  it('presets WeCom’s documented 基础频率: 10,000 a minute and 150,000 an hour per corp and API', () => {
    expect(WECOM_DOCUMENTED_LIMITS).toEqual({ perApi: { perMinute: 10_000, perHour: 150_000 } });
  });

  it('answers 45033 past the concurrency limit', async () => {
    const { wecom, token } = setup({ limits: { concurrentPerApi: 2, latencyMs: 20 } });
    const t = await token();
    const answers = await Promise.all([1, 2, 3, 4].map(() => wecom(api, undefined, t)));
    expect(answers.map((a) => a.errcode).sort()).toEqual([0, 0, 45033, 45033]);
  });
});

describe('injected faults (/__sim/corps/:corpid/faults)', () => {
  it('answers the errcode for the next K calls of one API, then serves again', async () => {
    const { wecom, token, admin } = setup();
    const t = await token();
    await admin('/corps/wwtest/faults', { api, errcode: -1, count: 2 });
    expect((await wecom('externalcontact/get_corp_tag_list', {}, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(-1);
    expect((await wecom(api, undefined, t)).errcode).toBe(-1);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
  });

  it('lets `after` matching calls through first, then answers the errcode', async () => {
    const { wecom, token, admin } = setup();
    const t = await token();
    await admin('/corps/wwtest/faults', { api, errcode: 48002, after: 2 });
    expect((await wecom('externalcontact/get_corp_tag_list', {}, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
    expect((await wecom(api, undefined, t)).errcode).toBe(48002);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
  });

  it('runs a 45009 storm over every API for a while', async () => {
    const { wecom, token, admin, clock } = setup();
    const t = await token();
    await admin('/corps/wwtest/faults', { errcode: 45009, durationMs: 90_000 });
    expect((await wecom(api, undefined, t)).errcode).toBe(45009);
    expect((await wecom('externalcontact/get_corp_tag_list', {}, t)).errcode).toBe(45009);
    clock.advance(90_000);
    expect((await wecom(api, undefined, t)).errcode).toBe(0);
  });

  it('counts calls per API, refused ones included', async () => {
    const { wecom, token, admin } = setup({ limits: { perApi: { perMinute: 1 } } });
    const t = await token();
    await wecom(api, undefined, t);
    await wecom(api, undefined, t);
    await wecom('externalcontact/get_corp_tag_list', {}, t);
    const calls = (await admin('/corps/wwtest/calls')).body;
    expect(calls).toEqual({ gettoken: 1, [api]: 2, 'externalcontact/get_corp_tag_list': 1 });
  });
});
