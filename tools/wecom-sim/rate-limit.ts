/**
 * WeCom's frequency limits, per corp and per API, in calendar-aligned minute and hour windows.
 *
 * 「主动调用频率限制」 (developer.work.weixin.qq.com/document/path/90312; the same text for
 * third-party apps, 「访问频率限制」 path/90454, last updated 2023/08/28, checked 2026-12-07), 基础频率:
 * 每企业调用单个cgi/api不可超过1万次/分，15万次/小时 (per IP: 2万次/分，60万次/小时, not modelled:
 * the simulator sees one caller); 按分钟拦截则被屏蔽60秒，按小时拦截则被屏蔽60分钟. 「全局错误码」
 * 45009: 频率拦截时长一般与调用的限制时长相同 — once a limit is hit, calls are refused for the
 * limit's own period from that moment, and refused calls do not count. The pages name no other
 * limit for the 客户联系 APIs used here (batch/get_by_user, mark_tag, get_corp_tag_list…), so they
 * get the 基础频率. 45033 (接口并发调用超过限制) has no documented number (a WeCom staff answer in
 * the developer community gives 5 for mark_tag); it is modelled as an optional cap on one API's calls
 * in flight at once, off in the documented preset. The message/send limits are in apis.ts.
 */

export interface RateRule {
  perMinute?: number;
  perHour?: number;
}

export interface RateLimits {
  /** the limit of every API of a corp, each API counted apart (每企业调用单个cgi/api) */
  perApi?: RateRule;
  /** tighter (or looser) limits for named APIs, e.g. `externalcontact/mark_tag` */
  apis?: Record<string, RateRule>;
  /** calls of one API of one corp in flight at once; over it → 45033 */
  concurrentPerApi?: number;
  /** ms every API call waits before answering (so concurrency can be exercised) */
  latencyMs?: number;
}

/** WeCom's documented 基础频率 (「主动调用频率限制」 / 「访问频率限制」), for benches and the demo. */
export const WECOM_DOCUMENTED_LIMITS: RateLimits = { perApi: { perMinute: 10_000, perHour: 150_000 } };

interface Window {
  minuteStart: number;
  minuteCount: number;
  hourStart: number;
  hourCount: number;
  blockedUntil: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

export class RateLimiter {
  private windows = new Map<string, Window>();
  private inFlight = new Map<string, number>();

  /** Counts a call at `now`; returns 45009 if it is over a limit (and then it does not count). */
  hit(corpid: string, api: string, now: number, limits: RateLimits): 45009 | null {
    const rule = { ...limits.perApi, ...limits.apis?.[api] };
    if (rule.perMinute == null && rule.perHour == null) return null;
    const key = `${corpid}|${api}`;
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = { minuteStart: 0, minuteCount: 0, hourStart: 0, hourCount: 0, blockedUntil: 0 }));
    if (now < w.blockedUntil) return 45009;
    const minuteStart = now - (now % MINUTE);
    const hourStart = now - (now % HOUR);
    if (w.minuteStart !== minuteStart) {
      w.minuteStart = minuteStart;
      w.minuteCount = 0;
    }
    if (w.hourStart !== hourStart) {
      w.hourStart = hourStart;
      w.hourCount = 0;
    }
    if (rule.perMinute != null && w.minuteCount >= rule.perMinute) {
      w.blockedUntil = now + MINUTE;
      return 45009;
    }
    if (rule.perHour != null && w.hourCount >= rule.perHour) {
      w.blockedUntil = now + HOUR;
      return 45009;
    }
    w.minuteCount++;
    w.hourCount++;
    return null;
  }

  /** Marks a call in flight; returns its release, or 45033 when the API is at its concurrency limit. */
  enter(corpid: string, api: string, limits: RateLimits): (() => void) | 45033 {
    const max = limits.concurrentPerApi;
    if (max == null) return () => {};
    const key = `${corpid}|${api}`;
    const n = this.inFlight.get(key) ?? 0;
    if (n >= max) return 45033;
    this.inFlight.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    };
  }

  reset(corpid?: string) {
    if (!corpid) {
      this.windows.clear();
      this.inFlight.clear();
      return;
    }
    for (const k of [...this.windows.keys()]) if (k.startsWith(`${corpid}|`)) this.windows.delete(k);
  }
}
