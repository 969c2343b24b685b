/**
 * `GET /api/field-catalog`: what the rule builder's inspector needs to offer fields, operators,
 * value inputs, event types and tags, in one request (shape: shared/src/api/rules.ts).
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import type { CatalogField, FieldCatalogResponse } from '@shared/api/rules';
import { EVENT_TYPES } from '@shared/domain';
import { BUILTIN_FIELDS, customFieldDefs, FIELD_TYPE_OPERATORS, type FieldDef } from '@shared/rules/fields';
import { CONDITION_OPERATORS } from '@shared/rules/operators';
import { loadWorkspace, tzOffsetMinutes, zoneName } from '../rules/context';

function toCatalogField(f: FieldDef, origin: CatalogField['origin']): CatalogField {
  return {
    key: f.key,
    type: f.type,
    label: f.label,
    origin,
    money: !!f.money,
    enumValues: f.enumValues ? [...f.enumValues] : null,
    eventScoped: !!f.eventScoped,
    needsParams: f.type === 'aggregate',
    operators: FIELD_TYPE_OPERATORS[f.type].map((op) => ({ op, value: CONDITION_OPERATORS[op]?.value ?? 'none' })),
  };
}

export const fieldCatalog = new Hono<AppEnv>().get('/', async (c) => {
  const ws = await loadWorkspace(c.env.DB);
  const body: FieldCatalogResponse = {
    fields: [
      ...BUILTIN_FIELDS.map((f) => toCatalogField(f, 'builtin')),
      ...customFieldDefs(ws.customFields).map((f) => toCatalogField(f, 'custom')),
    ],
    eventTypes: [...EVENT_TYPES],
    tags: ws.tags,
    timezone: { name: zoneName(c.env), offsetMinutes: tzOffsetMinutes(c.env) },
  };
  return c.json(body);
});
