import type { FieldValuesResponse } from '@shared/api/field-values';
import { apiGet } from './client';

/** Top values of a contact text field among the contacts the viewer may see, with counts. */
export const listFieldValues = (field: string, q?: string) => apiGet<FieldValuesResponse>('/field-values', q ? { field, q } : { field });
