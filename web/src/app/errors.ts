import { i18n } from './i18n';
import { ApiRequestError } from './api/client';
import { apiErrorText } from './api-error-text';

/** A sentence for the user from any error an API call raised, in the user's language. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiRequestError && e.code === 'network') return i18n.global.t('common.networkError');
  if (e instanceof ApiRequestError) return apiErrorText(e, (key, params) => i18n.global.t(key, params ?? {}));
  if (e instanceof Error && e.message) return i18n.global.t('common.loadFailed', { message: e.message });
  return i18n.global.t('common.networkError');
}
