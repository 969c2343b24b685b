import { describe, expect, it } from 'vitest';
import { guessMapping, normalizeIdNumber, normalizePhone, parseGender, parseKind, valueProblem } from './fields';
import { ENUM_VALUE_LABELS } from '../rules/labels';
import {
  FileChecker,
  checkFile,
  checkRow,
  mappingProblems,
  misalignedColumns,
  parseTagCell,
  resolveTags,
  taxonomyIndex,
  type ImportMapping,
  type TaxonomyTag,
} from './validate';

describe('guessMapping', () => {
  it('maps Chinese headers, including the variants Excel exports carry', () => {
    expect(guessMapping(['\uFEFF外部ID', '姓名', '手机号', '省份', '城市', '公司', '职业', '性别', '备注', '类型', '标签'])).toEqual([
      'externalId',
      'name',
      'phone',
      'region',
      'city',
      'company',
      'occupation',
      'gender',
      'remark',
      'kind',
      'tags',
    ]);
    expect(guessMapping(['手机', '地区', '客户姓名'])).toEqual(['phone', 'region', 'name']);
  });

  it('maps English headers regardless of case, spaces and underscores', () => {
    expect(guessMapping(['External ID', 'Name', 'Mobile', 'Region', 'City', 'external_id'])).toEqual([
      'externalId',
      'name',
      'phone',
      'region',
      'city',
      null,
    ]);
  });

  it('leaves unknown headers and second columns naming a taken field unmapped', () => {
    expect(guessMapping(['姓名', '生日', '名字', ''])).toEqual(['name', null, null, null]);
  });
});

describe('value shapes', () => {
  it('normalizes mainland mobiles with +86, spaces and dashes, and refuses non-numbers', () => {
    expect(normalizePhone('+86 138-0013-8000')).toBe('13800138000');
    expect(normalizePhone('008613800138000')).toBe('13800138000');
    expect(normalizePhone('13800138000')).toBe('13800138000');
    expect(normalizePhone('+44 20 7946 0958')).toBe('+442079460958');
    expect(normalizePhone('12345')).toBeNull();
    expect(normalizePhone('张伟')).toBeNull();
  });

  it('accepts resident ID numbers only when their check character is right', () => {
    expect(normalizeIdNumber('11010519491231002x')).toBe('11010519491231002X');
    expect(normalizeIdNumber('110101 19900307 1233')).toBe('110101199003071233');
    expect(normalizeIdNumber('110101199003071234')).toBeNull();
    expect(normalizeIdNumber('1101011990030712')).toBeNull();
    expect(guessMapping(['身份证号', 'ID Number'])).toEqual(['idNumber', null]);
    expect(valueProblem('idNumber', '110101199003071234')).toBe('invalid_id_number');
  });

  it('reads gender and kind in Chinese and English', () => {
    expect(parseGender('男')).toBe('male');
    expect(parseGender('Female')).toBe('female');
    expect(parseGender('保密')).toBe('unknown');
    expect(parseGender('x')).toBeNull();
    expect(parseKind('企业微信客户')).toBe('wecom_customer');
    expect(parseKind('group_member')).toBe('group_member');
    expect(parseKind('VIP')).toBeNull();
  });

  it('reads back every kind as an export writes it, in both languages', () => {
    for (const [kind, words] of Object.entries(ENUM_VALUE_LABELS.kind)) {
      expect(parseKind(words.zh)).toBe(kind);
      expect(parseKind(words.en)).toBe(kind);
    }
  });

  it('says why a value does not fit its field', () => {
    expect(valueProblem('name', '13800138000')).toBe('looks_like_phone');
    expect(valueProblem('name', '2024-03-01')).toBe('looks_like_date');
    expect(valueProblem('city', '1,200.50')).toBe('looks_like_number');
    expect(valueProblem('name', '张伟')).toBeNull();
    expect(valueProblem('phone', '张伟')).toBe('invalid_phone');
    expect(valueProblem('externalId', 'wm a')).toBe('invalid_external_id');
    expect(valueProblem('name', 'x'.repeat(201))).toBe('too_long');
  });
});

describe('mapping and misaligned columns', () => {
  it('requires the external id and refuses a field mapped twice', () => {
    expect(mappingProblems(['name', 'phone'])).toEqual([{ column: null, field: 'externalId', reason: 'required' }]);
    expect(mappingProblems(['externalId', 'name', 'name'])).toEqual([{ column: 2, field: 'name', reason: 'duplicate_field' }]);
    expect(mappingProblems(['externalId', null, 'name'])).toEqual([]);
  });

  it('flags a column shifted by one: phone numbers under 姓名 and names under 手机', () => {
    const mapping: ImportMapping = ['externalId', 'name', 'phone'];
    // the name column was left out when the file was made: every value moved one to the left
    const rows = [
      ['a1', '13800138001', '北京'],
      ['a2', '13800138002', '上海'],
      ['a3', '13800138003', '广州'],
    ];
    const bad = misalignedColumns(mapping, rows);
    expect(bad.map((b) => [b.column, b.field, b.bad, b.checked])).toEqual([
      [1, 'name', 3, 3],
      [2, 'phone', 3, 3],
    ]);
    expect(bad[0]!.samples).toEqual(['13800138001', '13800138002', '13800138003']);
  });

  it('does not flag a column where only a minority of values are wrong (those are row rejections)', () => {
    const rows = [
      ['a1', '张伟'],
      ['a2', '13800138000'],
      ['a3', '李娜'],
    ];
    expect(misalignedColumns(['externalId', 'name'], rows)).toEqual([]);
    const file = checkFile(
      ['externalId', 'name'],
      rows.map((cells, i) => ({ row: i + 2, cells })),
    );
    expect(file.rows.flatMap((r) => r.rejections)).toEqual([
      { row: 3, column: 1, field: 'name', reason: 'looks_like_phone', value: '13800138000' },
    ]);
  });

  it('flags dates in a name column', () => {
    const rows = [
      ['a1', '2024-01-02'],
      ['a2', '2024/01/03'],
      ['a3', '王芳'],
    ];
    expect(misalignedColumns(['externalId', 'name'], rows).map((b) => b.column)).toEqual([1]);
  });
});

describe('rows', () => {
  it('normalizes values and names the row, column and reason of each rejection', () => {
    const mapping: ImportMapping = ['externalId', 'name', 'phone', 'gender', null, 'tags'];
    const ok = checkRow(mapping, 2, ['wm_1', ' 张伟 ', '+86 138 0013 8000', '男', 'ignored', '生命周期/活跃客户, 美妆']);
    expect(ok).toEqual({
      row: 2,
      values: { externalId: 'wm_1', name: '张伟', phone: '13800138000', gender: 'male' },
      tags: [
        { group: '生命周期', name: '活跃客户' },
        { group: null, name: '美妆' },
      ],
      rejections: [],
    });
    const bad = checkRow(mapping, 7, ['', '张伟', '123', '?', '', '']);
    expect(bad.rejections).toEqual([
      { row: 7, column: 0, field: 'externalId', reason: 'required' },
      { row: 7, column: 2, field: 'phone', reason: 'invalid_phone', value: '123' },
      { row: 7, column: 3, field: 'gender', reason: 'invalid_gender', value: '?' },
    ]);
  });

  it('rejects later rows repeating an external id or a phone number, naming the first row', () => {
    const mapping: ImportMapping = ['externalId', 'phone'];
    const file = checkFile(mapping, [
      { row: 2, cells: ['a', '13800138000'] },
      { row: 3, cells: ['b', '138 0013 8000'] },
      { row: 4, cells: ['a', ''] },
      { row: 5, cells: ['c', '13900139000'] },
    ]);
    expect(file.rows.flatMap((r) => r.rejections)).toEqual([
      { row: 3, column: 1, field: 'phone', reason: 'duplicate_in_file', value: '13800138000', detail: '2' },
      { row: 4, column: 0, field: 'externalId', reason: 'duplicate_in_file', value: 'a', detail: '2' },
    ]);
  });
});

describe('tags', () => {
  const taxonomy: TaxonomyTag[] = [
    { id: 1, name: '活跃客户', groupId: 1, groupName: '生命周期', exclusive: true, status: 'active' },
    { id: 2, name: '沉睡客户', groupId: 1, groupName: '生命周期', exclusive: true, status: 'active' },
    { id: 3, name: '美妆', groupId: 2, groupName: '兴趣偏好', exclusive: false, status: 'active' },
    { id: 4, name: 'VIP', groupId: 2, groupName: '兴趣偏好', exclusive: false, status: 'active' },
    { id: 5, name: 'VIP', groupId: 3, groupName: '会员', exclusive: false, status: 'active' },
    { id: 6, name: '旧标签', groupId: 2, groupName: '兴趣偏好', exclusive: false, status: 'retired' },
  ];
  const index = taxonomyIndex(taxonomy);

  it('splits a cell on Chinese and ASCII separators and reads 组/标签', () => {
    expect(parseTagCell('会员/VIP；美妆、 活跃客户,美妆')).toEqual([
      { group: '会员', name: 'VIP' },
      { group: null, name: '美妆' },
      { group: null, name: '活跃客户' },
    ]);
  });

  it('resolves group/name and unique bare names to ids', () => {
    expect(resolveTags(parseTagCell('会员/VIP, 美妆'), index)).toEqual({ ok: true, tagIds: [5, 3] });
  });

  it('refuses unknown, ambiguous and retired tags, and two tags of one exclusive group', () => {
    expect(resolveTags(parseTagCell('不存在'), index)).toEqual({ ok: false, reason: 'unknown_tag', detail: '不存在' });
    expect(resolveTags(parseTagCell('会员/美妆'), index)).toEqual({ ok: false, reason: 'unknown_tag', detail: '会员/美妆' });
    expect(resolveTags(parseTagCell('VIP'), index)).toEqual({ ok: false, reason: 'ambiguous_tag', detail: 'VIP' });
    expect(resolveTags(parseTagCell('旧标签'), index)).toEqual({ ok: false, reason: 'retired_tag', detail: '旧标签' });
    expect(resolveTags(parseTagCell('活跃客户, 生命周期/沉睡客户'), index)).toEqual({
      ok: false,
      reason: 'exclusive_conflict',
      detail: '生命周期: 活跃客户, 沉睡客户',
    });
  });
});

describe('FileChecker', () => {
  it('checks a file page by page exactly as checkFile checks it whole', () => {
    const mapping: ImportMapping = ['externalId', 'name', 'phone', 'gender'];
    const rows = Array.from({ length: 50 }, (_, i) => ({
      row: i + 2,
      cells: [
        `e${i % 17}`,
        i % 7 === 0 ? `1390013${String(9000 + i)}` : `客户${i}`,
        i % 5 === 0 ? '12' : `1380013${String(8000 + (i % 23))}`,
        ['男', '女', '?'][i % 3]!,
      ],
    }));
    const whole = checkFile(mapping, rows);
    const checker = new FileChecker(mapping);
    const paged = [rows.slice(0, 7), rows.slice(7, 30), rows.slice(30)].flatMap((page) => checker.add(page));
    expect(paged).toEqual(whole.rows);
    expect(checker.misaligned()).toEqual(whole.misaligned);
    expect(paged.flatMap((r) => r.rejections).map((r) => r.reason)).toEqual(
      expect.arrayContaining(['duplicate_in_file', 'invalid_phone', 'invalid_gender', 'looks_like_phone']),
    );
  });
});

describe('ragged rows', () => {
  const mapping: ImportMapping = ['externalId', 'name', 'city'];
  it('rejects a row with non-empty cells past the header, naming the first extra cell', () => {
    const r = checkRow(mapping, 7, ['e_1', '甲', '杭州', '', '多余', '又多']);
    expect(r.rejections).toEqual([{ row: 7, column: 4, field: null, reason: 'extra_cells', value: '多余, 又多', detail: '3' }]);
  });
  it('ignores empty cells past the header (trailing delimiters)', () => {
    expect(checkRow(mapping, 2, ['e_1', '甲', '杭州', '', ' ']).rejections).toEqual([]);
  });
});
