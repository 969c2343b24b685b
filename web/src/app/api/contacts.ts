import type { ContactSort, ContactSummary } from '@shared/api/contacts';
import type { Page } from '@shared/api/common';
import type { ContactKind } from '@shared/domain';
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
