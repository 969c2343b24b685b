import type {
  CreateDestinationBody,
  CreatedDestination,
  DeadLetterList,
  DestinationSummary,
  RetryResult,
  TestDeliveryResult,
} from '@shared/api/destinations';
import { apiGet, apiPost } from './client';

/** Outbound destinations (super admins manage; rule editors list them without URLs). The secret is shown once, on create and rotate. */
export const listDestinations = async () => (await apiGet<{ items: DestinationSummary[] }>('/destinations')).items;
export const createDestination = (body: CreateDestinationBody) => apiPost<CreatedDestination>('/destinations', body);
export const rotateDestination = (id: number) => apiPost<CreatedDestination>(`/destinations/${id}/rotate`, {});
export const revokeDestination = (id: number) => apiPost<DestinationSummary>(`/destinations/${id}/revoke`, {});
export const sendTestDelivery = (id: number) => apiPost<TestDeliveryResult>(`/destinations/${id}/test`, {});

/** Deliveries that failed every attempt or were refused, newest failure first. */
export const listDeadLetters = (destinationId?: number) => apiGet<DeadLetterList>('/destinations/dead-letters', { destinationId });
export const retryDeadLetter = (deliveryId: string) => apiPost<RetryResult>(`/destinations/dead-letters/${deliveryId}/retry`, {});
export const retryAllDeadLetters = (destinationId: number) => apiPost<RetryResult>(`/destinations/${destinationId}/retry-dead`, {});
