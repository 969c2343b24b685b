// The worker tests reach the local WeCom simulator at http://wecom.test through miniflare's
// outbound service (worker/test/fake-receiver.ts → tools/wecom-sim): one shared instance.
import { describe, expect, it } from 'vitest';

const sim = (path: string, body?: unknown) =>
  fetch(`http://wecom.test${path}`, body === undefined ? undefined : { method: 'POST', body: JSON.stringify(body) }).then(
    (r) => r.json() as Promise<any>,
  );

describe('wecom.test', () => {
  it('is the WeCom simulator: seed a corp, get a token, read its tag library', async () => {
    const corp = await sim('/__sim/seed', { corpid: 'wwrouting', seed: 'routing', contacts: 10 });
    expect(corp.counts.contacts).toBe(10);
    const tok = await sim(`/cgi-bin/gettoken?corpid=wwrouting&corpsecret=${corp.contactSecret}`);
    expect(tok).toMatchObject({ errcode: 0, expires_in: 7200 });
    const lib = await sim(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${tok.access_token}`, {});
    expect(lib.errcode).toBe(0);
    expect(lib.tag_group.length).toBeGreaterThan(0);
    expect((await sim('/__sim/corps/wwrouting/calls'))['externalcontact/get_corp_tag_list']).toBe(1);
  });

  it('still sends every other host to the fake receiver', async () => {
    const res = await fetch('http://receiver.test/ok/wecom-routing', { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
  });
});
