/**
 * An errcode in words, both languages, for the test results the screen shows beside each secret:
 * WeCom's errcodes from shared/src/wecom/errcodes.ts; "works" and "could not reach WeCom" are
 * ours (they are not WeCom errcodes: a test that passed, a test that got no answer).
 */
import type { WecomErrcodeWords } from '@shared/api/wecom';
import { describeWecomErrcode } from '@shared/wecom/errcodes';

export function errcodeWords(errcode: number | null, errmsg: string): WecomErrcodeWords {
  if (errcode === null) {
    return {
      'zh-CN': `无法连接企业微信（超时、网络错误或返回的不是企业微信的应答）：${errmsg}`,
      en: `WeCom could not be reached (timeout, network error or an answer that is not WeCom's): ${errmsg}`,
    };
  }
  if (errcode === 0)
    return { 'zh-CN': 'Secret 可用：已从企业微信取得 access_token。', en: 'The secret works: WeCom issued an access token.' };
  const info = describeWecomErrcode(errcode);
  return { 'zh-CN': info.zh, en: info.en };
}
