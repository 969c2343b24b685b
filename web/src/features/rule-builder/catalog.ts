import type { FieldCatalogResponse } from '@shared/api/rules';
import type { CustomFieldDecl } from '@shared/rules/fields';

/** The declared custom attributes in the served catalog, as the compiler takes them. */
export function customFieldsFromCatalog(c: FieldCatalogResponse): CustomFieldDecl[] {
  return c.fields
    .filter((f) => f.origin === 'custom' && ['text', 'number', 'date', 'boolean', 'list'].includes(f.type))
    .map((f) => ({
      key: f.key.replace(/^custom\./, ''),
      labelZh: f.label.zh,
      labelEn: f.label.en,
      type: f.type as CustomFieldDecl['type'],
    }));
}
