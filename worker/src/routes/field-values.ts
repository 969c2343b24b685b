/**
 * `GET /api/field-values`: the top values of one contact text field, with counts, among the
 * contacts the caller may see (shape: shared/src/api/field-values.ts). One GROUP BY over the
 * visible contacts with a LIMIT: region has an index (region, city); on the 10k demo the other
 * fields' full scans answer in a few milliseconds too.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { ApiError } from '../errors';
import { contactScope } from '../auth/access';
import { containsText } from '../db/search';
import { fieldValuesQuery, suggestedField, type FieldValuesResponse } from '@shared/api/field-values';
import type { CustomFieldDecl } from '@shared/rules/fields';

/** The SQL expression of a suggestible field on `contacts c`. */
function valueExpr(key: string, decls: readonly CustomFieldDecl[]): string | undefined {
  const f = suggestedField(key, decls);
  if (!f) return undefined;
  // the key passed CUSTOM_KEY_PATTERN (fieldCatalog filters the others out): safe inside a JSON path
  if (f.source.kind === 'custom') return `json_extract(c.custom, '$.${f.source.key}')`;
  if (f.source.kind === 'column') return `c.${f.source.column}`;
  return undefined;
}

export const fieldValues = new Hono<AppEnv>().get('/', validate('query', fieldValuesQuery), async (c) => {
  const { field, q, limit = 20 } = c.req.valid('query');
  const d1 = c.env.DB;
  const custom = field.startsWith('custom.')
    ? (await d1.prepare('SELECT key, label_zh AS labelZh, label_en AS labelEn, type FROM custom_fields').all<CustomFieldDecl>()).results
    : [];
  const expr = valueExpr(field, custom);
  if (!expr) {
    throw new ApiError(400, 'invalid_request', `field: "${field}" has no value suggestions (a contact text field is needed)`, [
      { path: 'field', message: `"${field}" is not a contact text field with suggestions` },
    ]);
  }
  const scope = contactScope(c.get('user'));
  const match = q ? containsText(expr, q) : undefined;
  const where = [`${expr} IS NOT NULL`, `${expr} <> ''`, ...(scope ? [scope.sql] : []), ...(match ? [match.sql] : [])].join(' AND ');
  const { results } = await d1
    .prepare(`SELECT ${expr} AS value, COUNT(*) AS count FROM contacts c WHERE ${where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`)
    .bind(...(scope?.params ?? []), ...(match?.params ?? []), limit)
    .all<{ value: unknown; count: number }>();
  const body: FieldValuesResponse = { field, items: results.map((r) => ({ value: String(r.value), count: r.count })) };
  return c.json(body);
});
