import type {
  CreateSegmentBody,
  SegmentDetail,
  SegmentListResponse,
  SegmentPreviewBody,
  SegmentHistoryResponse,
  SegmentOverlapResponse,
  SegmentPreviewResponse,
  UpdateSegmentBody,
} from '@shared/api/segments';
import { apiDelete, apiGet, apiPost, apiPut } from './client';

export const listSegments = (q: { page?: number; pageSize?: number; q?: string } = {}) => apiGet<SegmentListResponse>('/segments', q);
export const getSegment = (id: number) => apiGet<SegmentDetail>(`/segments/${id}`);
export const createSegment = (body: CreateSegmentBody) => apiPost<SegmentDetail>('/segments', body);
export const updateSegment = (id: number, body: UpdateSegmentBody) => apiPut<SegmentDetail>(`/segments/${id}`, body);
export const deleteSegment = (id: number) => apiDelete(`/segments/${id}`);
export const previewSegment = (body: SegmentPreviewBody) => apiPost<SegmentPreviewResponse>('/segments/preview', body);
export const getSegmentHistory = (id: number) => apiGet<SegmentHistoryResponse>(`/segments/${id}/history`);
export const getSegmentOverlap = (id: number, other: number) => apiGet<SegmentOverlapResponse>(`/segments/${id}/overlap`, { with: other });
