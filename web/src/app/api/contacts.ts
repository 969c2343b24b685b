import type { ContactSort, ContactSummary } from '../../../../shared/src/api/contacts';
import type { Page } from '../../../../shared/src/api/common';
import type { ContactKind } from '../../../../shared/src/domain';
import { apiGet } from './client';

export interface ContactFilters {
  q?: string;
  kind?: ContactKind;
  departmentId?: number;
  tagId?: number;
  sort?: ContactSort;
  page?: number;
  pageSize?: number;
}

export const listContacts = (filters: ContactFilters) => apiGet<Page<ContactSummary>>('/contacts', { ...filters });
export const getContact = (id: number) => apiGet<ContactSummary>(`/contacts/${id}`);
