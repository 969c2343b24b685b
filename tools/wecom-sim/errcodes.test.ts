import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeWecomErrcode, WECOM_ERRCODES } from '../../shared/src/wecom/errcodes';

const source = ['app.ts', 'apis.ts'].map((f) => readFileSync(new URL(f, import.meta.url), 'utf8')).join('\n');

describe('shared/src/wecom/errcodes.ts', () => {
  it('explains, in zh-CN and English, every errcode the simulator can answer', () => {
    const used = new Set<number>();
    for (const m of source.matchAll(/(?:new ApiError|fail)\((-?\d+)/g)) used.add(Number(m[1]));
    for (const m of source.matchAll(/return (4\d{4});/g)) used.add(Number(m[1]));
    expect(used.size).toBeGreaterThan(20);
    const table = WECOM_ERRCODES as Record<number, { zh: string; en: string; errmsg: string }>;
    const missing = [...used].filter((code) => !table[code]);
    expect(missing).toEqual([]);
    for (const code of used) {
      expect(table[code]!.zh).toMatch(/[\u4e00-\u9fff]/);
      expect(table[code]!.en).toMatch(/^[A-Z]/);
      expect(table[code]!.en).not.toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('names the codes the issue lists, retryable only where waiting helps', () => {
    for (const code of [40001, 40014, 42001, 45009, 45033, 301002, 84061])
      expect(describeWecomErrcode(code).errmsg).not.toMatch(/^errcode/);
    expect([40014, 42001, 45009, 45033, -1].every((c) => describeWecomErrcode(c).retryable)).toBe(true);
    expect([40001, 40013, 48002, 301002, 84061].some((c) => describeWecomErrcode(c).retryable)).toBe(false);
  });

  it('falls back to a sentence naming an unknown code and WeCom’s lookup page', () => {
    const d = describeWecomErrcode(99999);
    expect(d.zh).toContain('99999');
    expect(d.en).toContain('https://open.work.weixin.qq.com/devtool/query?e=99999');
  });
});
