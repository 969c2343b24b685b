import type { DestinationSummary } from '@shared/api/destinations';
import { apiGet } from './client';

/** Outbound destinations (call-webhook and notify targets); rule editors list them to pick one. */
export const listDestinations = () => apiGet<{ items: DestinationSummary[] }>('/destinations');
