/**
 * `GET /api/field-values?field=region&q=广`: the values a contact text field holds most often
 * among the contacts the caller may see (their department subtree; everyone for a super admin),
 * with how many contacts hold each, for the rule builder's value suggestions. Only the contact
 * text fields people type into (region, city, company, occupation, source channel, declared
 * custom text attributes): an unknown or other field is a 400 naming it.
 */
import { z } from 'zod';
import { fieldCatalog, type CustomFieldDecl, type FieldDef } from '../rules/fields';

export const fieldValuesQuery = z
  .object({
    /** A catalog key: `region`, `city`, `company`, `occupation`, `sourceChannel`, `custom.<key>`. */
    field: z.string().trim().min(1, 'is required').max(80, 'must be at most 80 characters'),
    /** Part of the value (case ignored). */
    q: z.string().trim().max(50, 'must be at most 50 characters').optional(),
    limit: z.coerce.number().int().min(1, 'must be 1–50').max(50, 'must be 1–50').optional(),
  })
  .strict();

/** One suggested value and how many visible contacts hold it. */
export interface FieldValueCount {
  value: string;
  count: number;
}

export interface FieldValuesResponse {
  field: string;
  items: FieldValueCount[];
}

/** Built-in text fields that get suggestions; the others are a closed list, personal, or not on the contact. */
export const SUGGESTED_BUILTIN_FIELDS = ['region', 'city', 'company', 'occupation', 'sourceChannel'] as const;

/** Whether the catalog field `f` gets value suggestions. */
export function suggestsValues(f: FieldDef | undefined): boolean {
  if (!f || f.type !== 'text' || f.enumValues || f.eventScoped) return false;
  return f.source.kind === 'custom' || (SUGGESTED_BUILTIN_FIELDS as readonly string[]).includes(f.key);
}

/** The suggestible field named `key` in a workspace with these custom attributes, or undefined. */
export function suggestedField(key: string, decls: readonly CustomFieldDecl[]): FieldDef | undefined {
  const f = fieldCatalog(decls).get(key);
  return suggestsValues(f) ? f : undefined;
}
