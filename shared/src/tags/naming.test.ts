import { describe, expect, it } from 'vitest';
import { checkTagName, parseNamingTemplate } from './naming';
import { replaceTagInGraph, replaceTagInLogic, tagUseInGraph } from './graph-usage';
import { wecomPlacement } from './wecom';
import type { JsonLogic } from '../rules/types';

describe('group naming templates', () => {
  const t = parseNamingTemplate('{部门}_{小组}')!;

  it('accepts names that fill every part and refuses the rest, with an example', () => {
    expect(checkTagName('销售_华东一组', t)).toEqual([]);
    expect(checkTagName('销售华东一组', t)).toEqual([{ kind: 'pattern', pattern: '{部门}_{小组}', example: '部门_小组' }]);
    expect(checkTagName('销售_', t)).toHaveLength(1);
    expect(checkTagName('销售_华东_一组', t)).toHaveLength(1);
    expect(checkTagName('销 售_华东', t)).toHaveLength(1);
  });

  it('refuses templates without parts or with adjacent parts', () => {
    expect(parseNamingTemplate('部门_小组')).toBeNull();
    expect(parseNamingTemplate('{a}{b}')).toBeNull();
    expect(parseNamingTemplate('{a')).toBeNull();
    expect(parseNamingTemplate('【{渠道}】{活动}')).not.toBeNull();
  });

  it('checks every name: empty, too long, list separators', () => {
    expect(checkTagName('  ')).toEqual([{ kind: 'empty' }]);
    expect(checkTagName('长'.repeat(31))).toEqual([{ kind: 'too_long', max: 30 }]);
    expect(checkTagName('美妆,护肤')).toEqual([{ kind: 'forbidden_char', char: ',' }]);
    expect(checkTagName('美妆')).toEqual([]);
  });
});

describe('tags in rule graphs', () => {
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'purchase', filters: [{ field: 'tags', op: 'lacks', value: 7 }] } },
      { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has_any', value: [7, 8] } },
      { id: 'b', kind: 'branch', cases: [{ id: 'x', condition: { field: 'tags', op: 'has', value: 9 } }] },
      { id: 'n', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 7 } },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 7 } },
    ],
    edges: [],
  };

  it('finds a tag in filters, conditions, cases and actions, and not in other fields', () => {
    expect(tagUseInGraph(graph, 7)).toEqual({ conditions: 2, actions: 1 });
    expect(tagUseInGraph(graph, 9)).toEqual({ conditions: 1, actions: 0 });
    expect(tagUseInGraph(graph, 100)).toEqual({ conditions: 0, actions: 0 });
  });

  it('rewrites every use, keeping lists free of repeats, without touching the original', () => {
    const { graph: out, replaced } = replaceTagInGraph(graph, 7, 8);
    expect(replaced).toBe(3);
    expect(tagUseInGraph(out, 7)).toEqual({ conditions: 0, actions: 0 });
    expect(out.nodes[1]).toMatchObject({ condition: { value: [8] } });
    expect(out.nodes[3]).toMatchObject({ condition: { value: 7 } });
    expect(tagUseInGraph(graph, 7).actions).toBe(1);
  });

  it('rewrites compiled JSON Logic tag operators', () => {
    const logic: JsonLogic = { and: [{ sf_has_tag: [7] }, { sf_has_any_tag: [[7, 8]] }, { '>=': [{ var: 'x' }, 7] }] };
    expect(replaceTagInLogic(logic, 7, 8)).toEqual({ and: [{ sf_has_tag: [8] }, { sf_has_any_tag: [[8]] }, { '>=': [{ var: 'x' }, 7] }] });
  });
});

describe('WeCom mapping of the three-level tree', () => {
  it('puts levels 2 and 3 under a WeCom group named after group and level 1', () => {
    expect(wecomPlacement('兴趣偏好', ['美妆', '护肤', '抗老'])).toEqual({ groupName: '兴趣偏好·美妆', tagName: '护肤-抗老' });
    expect(wecomPlacement('兴趣偏好', ['美妆', '护肤'])).toEqual({ groupName: '兴趣偏好·美妆', tagName: '护肤' });
    expect(wecomPlacement('生命周期', ['活跃客户'])).toEqual({ groupName: '生命周期', tagName: '活跃客户' });
  });
});
