/**
 * The contact fields a spreadsheet column can be imported into, how a header names them
 * (zh and en), and what shape their values have. Pure: used by the browser (mapping screen,
 * early checks) and the worker (the dry run is the authority).
 */
import { CONTACT_KINDS, GENDERS, type ContactKind, type Gender } from '../domain';
import { ENUM_VALUE_LABELS } from '../rules/labels';

export const IMPORT_FIELDS = [
  'externalId',
  'name',
  'phone',
  'idNumber',
  'region',
  'city',
  'company',
  'occupation',
  'gender',
  'remark',
  'kind',
  'tags',
] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

/** Fields that are contact columns (everything but `tags`), with their D1 column names. */
export const ATTRIBUTE_FIELDS = {
  name: 'name',
  region: 'region',
  city: 'city',
  company: 'company',
  occupation: 'occupation',
  gender: 'gender',
  remark: 'remark',
  kind: 'kind',
} as const satisfies Partial<Record<ImportField, string>>;
export type AttributeField = keyof typeof ATTRIBUTE_FIELDS;

/** Max characters of a free-text value (names, companies…); longer values are rejected, not cut. */
export const MAX_TEXT = 200;
export const MAX_EXTERNAL_ID = 128;

/**
 * Header spellings, compared after {@link normalizeHeader}. First match wins, so the more
 * specific spellings (外部ID before ID) come first.
 */
const HEADER_ALIASES: Record<ImportField, string[]> = {
  externalId: [
    '外部id',
    '外部联系人id',
    'externalid',
    'external_id',
    'externaluserid',
    'external_userid',
    'openid',
    'wxid',
    'unionid',
    '客户id',
    '联系人id',
    'id',
  ],
  name: ['姓名', '名字', '名称', '昵称', '客户名称', '客户姓名', '联系人', 'name', 'fullname', 'nickname', 'contactname'],
  phone: [
    '手机',
    '手机号',
    '手机号码',
    '电话',
    '电话号码',
    '联系电话',
    '移动电话',
    'phone',
    'mobile',
    'phonenumber',
    'mobilephone',
    'tel',
    'cellphone',
  ],
  idNumber: ['身份证', '身份证号', '身份证号码', '证件号', '证件号码', 'idnumber', 'id_number', 'idcard', 'nationalid'],
  region: ['地区', '省份', '省', '区域', '所在地区', 'region', 'province', 'state'],
  city: ['城市', '市', '所在城市', 'city'],
  company: ['公司', '企业', '公司名称', '单位', '工作单位', 'company', 'organization', 'organisation', 'corp'],
  occupation: ['职业', '职位', '岗位', '行业', 'occupation', 'job', 'title', 'jobtitle', 'position'],
  gender: ['性别', 'gender', 'sex'],
  remark: ['备注', '备注名', '说明', 'remark', 'note', 'notes', 'comment', 'memo'],
  kind: ['类型', '联系人类型', '客户类型', '来源类型', 'kind', 'type', 'contacttype'],
  tags: ['标签', '客户标签', '标签组/标签', 'tags', 'tag', 'labels', 'label'],
};

/** Lower case, without spaces, underscores kept, full-width letters folded (ＩＤ → id). */
export function normalizeHeader(h: string): string {
  return h
    .normalize('NFKC')
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase()
    .replace(/[\s\-–—()（）:：*＊]/g, '');
}

/**
 * Guesses which field each column holds from its header. A field is given to one column only
 * (the first that names it); unknown headers map to null (not imported).
 */
export function guessMapping(headers: string[]): (ImportField | null)[] {
  const taken = new Set<ImportField>();
  return headers.map((h) => {
    const n = normalizeHeader(h);
    if (!n) return null;
    for (const field of IMPORT_FIELDS) {
      if (taken.has(field)) continue;
      if (HEADER_ALIASES[field].some((a) => a.replace(/_/g, '') === n.replace(/_/g, ''))) {
        taken.add(field);
        return field;
      }
    }
    return null;
  });
}

// ---- value shapes ----

const PHONE_RE = /^1[3-9]\d{9}$/;
const INTL_PHONE_RE = /^\+\d{8,15}$/;
const DATE_RE = /^(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}(:\d{2})?)?$/;
const NUMBER_RE = /^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$/;

/**
 * A phone number in one canonical form: mainland mobiles as 11 digits (+86 / 0086 prefix,
 * spaces and dashes dropped), other numbers as +digits. null when it is not a phone number.
 */
export function normalizePhone(value: string): string | null {
  let v = value.normalize('NFKC').replace(/[\s\-().]/g, '');
  if (/^(\+?86|0086)1\d{10}$/.test(v)) v = v.slice(v.length - 11);
  if (PHONE_RE.test(v)) return v;
  if (v.startsWith('00')) v = `+${v.slice(2)}`;
  if (INTL_PHONE_RE.test(v) && !v.startsWith('+86')) return v;
  return null;
}

export const looksLikePhone = (v: string) => normalizePhone(v) !== null;
export const looksLikeDate = (v: string) => DATE_RE.test(v.normalize('NFKC').trim());
export const looksLikeNumber = (v: string) => NUMBER_RE.test(v.normalize('NFKC').trim());

const GENDER_WORDS: Record<string, Gender> = {
  男: 'male',
  男性: 'male',
  先生: 'male',
  m: 'male',
  male: 'male',
  女: 'female',
  女性: 'female',
  女士: 'female',
  f: 'female',
  female: 'female',
  未知: 'unknown',
  保密: 'unknown',
  unknown: 'unknown',
};

const KIND_WORDS: Record<string, ContactKind> = {
  好友: 'friend',
  个人微信好友: 'friend',
  微信好友: 'friend',
  群成员: 'group_member',
  群友: 'group_member',
  粉丝: 'follower',
  关注者: 'follower',
  公众号粉丝: 'follower',
  企业微信客户: 'wecom_customer',
  企微客户: 'wecom_customer',
  客户: 'wecom_customer',
  // what an export writes in either language ("WeChat friend"), so an exported file imports back
  ...Object.fromEntries(
    Object.entries(ENUM_VALUE_LABELS.kind).flatMap(([kind, w]) => [
      [w.zh, kind as ContactKind],
      [w.en.toLowerCase(), kind as ContactKind],
    ]),
  ),
};

export function parseGender(v: string): Gender | null {
  const k = v.normalize('NFKC').trim().toLowerCase();
  return GENDER_WORDS[k] ?? ((GENDERS as readonly string[]).includes(k) ? (k as Gender) : null);
}

export function parseKind(v: string): ContactKind | null {
  const k = v.normalize('NFKC').trim().toLowerCase();
  return KIND_WORDS[k] ?? ((CONTACT_KINDS as readonly string[]).includes(k) ? (k as ContactKind) : null);
}

/**
 * A mainland resident ID number (GB 11643: 17 digits and a check character, X for 10), upper
 * case, or null when the check fails: a mistyped digit is caught here, not stored.
 */
export function normalizeIdNumber(value: string): string | null {
  const v = value.normalize('NFKC').replace(/\s/g, '').toUpperCase();
  if (!/^\d{17}[\dX]$/.test(v)) return null;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((acc, w, i) => acc + w * Number(v[i]), 0);
  return '10X98765432'[sum % 11] === v[17] ? v : null;
}

/** Why a value does not fit its column (a rejection reason code), or null when it fits. */
export type ValueProblem =
  | 'invalid_phone'
  | 'invalid_id_number'
  | 'invalid_gender'
  | 'invalid_kind'
  | 'invalid_external_id'
  | 'too_long'
  | 'looks_like_phone'
  | 'looks_like_date'
  | 'looks_like_number';

/** Checks one non-empty value against the field its column is mapped to. */
export function valueProblem(field: ImportField, raw: string): ValueProblem | null {
  const v = raw.trim();
  switch (field) {
    case 'externalId':
      return v.length > MAX_EXTERNAL_ID || /\s/.test(v) ? 'invalid_external_id' : null;
    case 'phone':
      return looksLikePhone(v) ? null : 'invalid_phone';
    case 'idNumber':
      return normalizeIdNumber(v) ? null : 'invalid_id_number';
    case 'gender':
      return parseGender(v) ? null : 'invalid_gender';
    case 'kind':
      return parseKind(v) ? null : 'invalid_kind';
    case 'name':
    case 'region':
    case 'city':
    case 'occupation':
      // words, never a phone number, a date or an amount
      if (looksLikePhone(v)) return 'looks_like_phone';
      if (looksLikeDate(v)) return 'looks_like_date';
      if (looksLikeNumber(v)) return 'looks_like_number';
      return v.length > MAX_TEXT ? 'too_long' : null;
    case 'company':
      if (looksLikePhone(v)) return 'looks_like_phone';
      if (looksLikeDate(v)) return 'looks_like_date';
      return v.length > MAX_TEXT ? 'too_long' : null;
    case 'remark':
    case 'tags':
      return v.length > 1000 ? 'too_long' : null;
  }
}
