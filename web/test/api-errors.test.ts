import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createI18n } from 'vue-i18n';
import zhCN from '../src/locales/zh-CN/index';
import en from '../src/locales/en/index';
import { apiErrorText } from '../src/app/api-error-text';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every error code the worker can answer with, read from its sources: literal codes given to
 * `new ApiError(status, 'code', …)` and `errorBody('code', …)`, and literals assigned to an
 * `ErrorCode` variable (the HTTPException mapping). A code added tomorrow is found here.
 */
function workerCodes(): { codes: Set<string>; unreadable: string[] } {
  const codes = new Set<string>();
  const unreadable: string[] = [];
  for (const file of sources(join(root, 'worker', 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new ApiError\(\s*([^,]+),\s*([^,]+),/g)) {
      const lit = /^'([a-z_]+)'$/.exec(m[2]!.trim());
      // `err.code` re-throws an ApiError's own code; anything else must be a literal to be checked
      if (lit) codes.add(lit[1]!);
      else unreadable.push(`${file}: ${m[0]}`);
    }
    for (const m of text.matchAll(/errorBody\(\s*'([a-z_]+)'/g)) codes.add(m[1]!);
    for (const m of text.matchAll(/:\s*ErrorCode\s*=([^;]+);/g)) for (const l of m[1]!.matchAll(/'([a-z_]+)'/g)) codes.add(l[1]!);
  }
  return { codes, unreadable };
}

/** The `ErrorCode` union in shared/, the type every thrown code must belong to. */
function declaredCodes(): Set<string> {
  const text = readFileSync(join(root, 'shared', 'src', 'api', 'errors.ts'), 'utf8');
  const union = /export type ErrorCode =([^;]+);/.exec(text)![1]!;
  return new Set([...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!));
}

const i18n = createI18n({
  legacy: false,
  locale: 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
});
const tIn = (locale: 'zh-CN' | 'en') => (key: string, params?: Record<string, unknown>) => {
  i18n.global.locale.value = locale;
  return i18n.global.t(key, params ?? {});
};
const HAN = /[\u4e00-\u9fff]/;

describe('API error messages', () => {
  const { codes, unreadable } = workerCodes();

  it('finds the codes the worker throws, each written as a literal', () => {
    expect(unreadable).toEqual([]);
    // the scan itself works: codes known to be thrown today are among those found
    for (const c of ['invalid_request', 'not_found', 'conflict', 'unknown_reference', 'invalid_rule', 'internal', 'payload_too_large'])
      expect(codes).toContain(c);
  });

  it('has a zh-CN and an en sentence for every code the worker can throw or declares', () => {
    const all = new Set([...codes, ...declaredCodes()]);
    const missing: string[] = [];
    for (const code of all) {
      const zh = (zhCN.apiError.code as Record<string, string>)[code];
      const e = (en.apiError.code as Record<string, string>)[code];
      if (!zh || !HAN.test(zh)) missing.push(`zh-CN ${code}`);
      if (!e || HAN.test(e)) missing.push(`en ${code}`);
    }
    expect(missing).toEqual([]);
  });

  it('shows the localised sentence and the fields named, not the server text', () => {
    const err = {
      status: 409,
      code: 'conflict',
      message: 'Group 兴趣 already has a tag named 美妆 (#3, active)',
      details: [{ path: 'name', message: 'already used' }],
    };
    const zh = apiErrorText(err, tIn('zh-CN'));
    expect(zh).toBe('操作与当前数据冲突，请刷新后重试（涉及：name）');
    const e = apiErrorText(err, tIn('en'));
    expect(e).toBe('This conflicts with the current data: refresh and try again (concerns: name)');
  });

  it('lists each field once and at most five', () => {
    const details = ['a', 'b', 'a', 'c', 'd', 'e', 'f'].map((path) => ({ path, message: 'x' }));
    expect(apiErrorText({ status: 400, code: 'invalid_request', message: '', details }, tIn('zh-CN'))).toBe(
      '提交的内容有误，请检查后重试（涉及：a、b、c、d、e…）',
    );
  });

  it('falls back to a generic sentence with the server text for a code it does not know', () => {
    const err = { status: 429, code: 'slow_down_please', message: 'Too many requests: wait 10 s' };
    expect(apiErrorText(err, tIn('zh-CN'))).toBe('请求失败（429）：Too many requests: wait 10 s');
    expect(apiErrorText(err, tIn('en'))).toBe('Request failed (429): Too many requests: wait 10 s');
  });

  it('names the object and count a confirmation is about', () => {
    const err = {
      status: 409,
      code: 'confirmation_required',
      message: 'Retiring 高价值客户 freezes it on the 12 contacts holding it: resend with confirm.count = 12 to go ahead',
      details: [
        { path: 'confirm.count', message: '12' },
        { path: 'confirm.object', message: '高价值客户' },
      ],
    };
    expect(apiErrorText(err, tIn('zh-CN'))).toBe('此操作会影响「高价值客户」的 12 项，需要确认后再执行');
    expect(apiErrorText(err, tIn('en'))).toBe('This affects 12 of “高价值客户”: confirm it to go ahead');
  });
});
