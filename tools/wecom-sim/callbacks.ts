/**
 * Callbacks the way WeCom sends them (「接收消息与事件 · 加解密方案」 and 「客户联系 · 事件」
 * on developer.work.weixin.qq.com, path/90968 and path/92130): the event is a flat XML document,
 * encrypted with the corp's EncodingAESKey (AES-256-CBC, receiveid = CorpID), wrapped in
 * `<xml><ToUserName/><AgentID/><Encrypt/></xml>` and POSTed to the callback URL with
 * `msg_signature` (SHA1 of the sorted token, timestamp, nonce and ciphertext), `timestamp` and
 * `nonce` in the query. WeCom retries a callback that is not answered within 5 seconds, up to
 * three times.
 *
 * The crypto is the project's own (shared/src/wecom/crypto.ts), the same code the worker
 * verifies with, so a mismatch between the two cannot hide behind two implementations.
 */
import { wecomEncrypt, wecomSignature } from '../../shared/src/wecom/crypto';
import { type Corp } from './state';

/** A callback's fields: text, or a one-level list (`<MemChangeList><Item>…</Item></MemChangeList>`). */
export type CallbackFields = Record<string, string | number | string[] | undefined>;

export interface PendingCallback {
  id: number;
  corpid: string;
  /** the configured callback URL, without the signature query */
  url: string;
  /** `url` with msg_signature, timestamp and nonce appended: what WeCom requests */
  href: string;
  method: 'POST';
  query: { msg_signature: string; timestamp: string; nonce: string };
  headers: Record<string, string>;
  body: string;
  /** the plaintext fields, for tests that want to see what was sent without decrypting */
  event: CallbackFields;
}

export interface DeliveryAttempt {
  id: number;
  attempt: number;
  status: number | null;
  answer: string;
  error?: string;
  at: number;
}

const cdata = (v: string) => `<![CDATA[${v.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

/** The plaintext XML of an event: numbers bare, text in CDATA, lists as <Item>s (WeCom's layout). */
export function callbackXml(fields: CallbackFields): string {
  let out = '<xml>';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) out += `<${k}>${v.map((x) => `<Item>${cdata(x)}</Item>`).join('')}</${k}>`;
    else if (typeof v === 'number') out += `<${k}>${v}</${k}>`;
    else out += `<${k}>${cdata(v)}</${k}>`;
  }
  return `${out}</xml>`;
}

function nonce(): string {
  const b = crypto.getRandomValues(new Uint32Array(1));
  return String(1_000_000_000 + ((b[0] as number) % 9_000_000_000));
}

/** Encrypts and signs an event for the corp's callback configuration. */
export async function sealCallback(
  corp: Corp,
  fields: CallbackFields,
  clock: { nowSeconds(): number },
  id: number,
): Promise<PendingCallback | null> {
  const cb = corp.callback;
  if (!cb) return null;
  const plain = callbackXml(fields);
  const encrypted = await wecomEncrypt(cb.encodingAesKey, plain, corp.corpid);
  const timestamp = String(clock.nowSeconds());
  const n = nonce();
  const msg_signature = await wecomSignature(cb.token, timestamp, n, encrypted);
  const agentid = corp.agents[0]?.agentid ?? '';
  const body = `<xml><ToUserName>${cdata(corp.corpid)}</ToUserName><AgentID>${cdata(String(agentid))}</AgentID><Encrypt>${cdata(encrypted)}</Encrypt></xml>`;
  const query = { msg_signature, timestamp, nonce: n };
  const u = new URL(cb.url);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return {
    id,
    corpid: corp.corpid,
    url: cb.url,
    href: u.toString(),
    method: 'POST',
    query,
    headers: { 'content-type': 'text/xml' },
    body,
    event: fields,
  };
}

export interface PushOptions {
  fetch: typeof fetch;
  /** WeCom waits 5 s for an answer */
  timeoutMs?: number;
  /** WeCom retries up to three times */
  retries?: number;
  retryDelayMs?: number;
}

/** Delivers one callback: POST, and retry when there is no answer in time or the answer is not 2xx. */
export async function pushCallback(cb: PendingCallback, opts: PushOptions, log: (a: DeliveryAttempt) => void): Promise<boolean> {
  const attempts = 1 + (opts.retries ?? 3);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 5000);
    try {
      const res = await opts.fetch(cb.href, { method: 'POST', headers: cb.headers, body: cb.body, signal: ac.signal });
      const answer = (await res.text()).slice(0, 200);
      log({ id: cb.id, attempt, status: res.status, answer, at: Date.now() });
      if (res.ok) return true;
    } catch (e) {
      log({ id: cb.id, attempt, status: null, answer: '', error: e instanceof Error ? e.message : String(e), at: Date.now() });
    } finally {
      clearTimeout(timer);
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 1000));
  }
  return false;
}
