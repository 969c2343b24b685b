import { describe, expect, it } from 'vitest';
import { fillNotifyText, outboundActions } from './outbound';

describe('fillNotifyText', () => {
  it('fills name, rule and the tag changes, and leaves other braces alone', () => {
    const text = fillNotifyText('{name} 在「{rule}」中 {tags} {other}', {
      name: '王芳',
      rule: '高价值客户',
      tags: [
        { tagName: '高价值', change: 'added' },
        { tagName: '潜在', change: 'removed' },
      ],
    });
    expect(text).toBe('王芳 在「高价值客户」中 +高价值 -潜在 {other}');
    expect(fillNotifyText('{name}|{tags}', { name: null, rule: 'r', tags: [] })).toBe('|');
  });
});

describe('outboundActions', () => {
  it('keeps call-webhook and notify actions in node order, no tag actions', () => {
    const list = outboundActions([
      { nodeId: 'a', action: { type: 'add_tag', tagId: 1 } },
      { nodeId: 'n', action: { type: 'notify', destinationId: 2, text: 'x' } },
      { nodeId: 'w', action: { type: 'call_webhook', destinationId: 1 } },
    ]);
    expect(list.map((a) => a.nodeId)).toEqual(['n', 'w']);
  });
});
