import type { ContactSort, ContactSummary, OwnerOption } from '@shared/api/contacts';
import type { z } from 'zod';
import type {
  ArchivedEventsPage,
  ContactDetail,
  EventTimelinePage,
  ManualTagResult,
  TagTimelinePage,
  manualTagsBody,
} from '@shared/api/taxonomy';
import type { Page } from '@shared/api/common';
import type { ContactKind } from '@shared/domain';
import { apiGet, apiPost } from './client';

export interface ContactFilters {
  q?: string;
  kind?: ContactKind;
  departmentId?: number;
  tagId?: number;
  ownerUserId?: number;
  sort?: ContactSort;
  page?: number;
  pageSize?: number;
}

export const listContacts = (filters: ContactFilters) => apiGet<Page<ContactSummary>>('/contacts', { ...filters });
export const listOwners = (query: { q?: string; id?: number }) => apiGet<{ items: OwnerOption[] }>('/contacts/owners', query);
export const getContact = (id: number) => apiGet<ContactSummary>(`/contacts/${id}`);
export const getContactDetail = (id: number) => apiGet<ContactDetail>(`/contacts/${id}/detail`);
export const getTagTimeline = (id: number, page = 1) => apiGet<TagTimelinePage>(`/contacts/${id}/tag-timeline`, { page });
export const getEventTimeline = (id: number, page = 1) => apiGet<EventTimelinePage>(`/contacts/${id}/events`, { page });
/** Archived days (R2) older than `before` (yyyy-mm-dd); the first call without it. */
export const getArchivedEvents = (id: number, before?: string) =>
  apiGet<ArchivedEventsPage>(`/contacts/${id}/events/archived`, before ? { before } : {});
export const editContactTags = (id: number, body: z.input<typeof manualTagsBody>) => apiPost<ManualTagResult>(`/contacts/${id}/tags`, body);
