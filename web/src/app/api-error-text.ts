import type { ErrorCode } from '@shared/api/errors';
import zhErrors from '../locales/zh-CN/errors';

/** The codes this client has sentences for (zh-CN is the reference locale; en is typed against it). */
export const LOCALISED_CODES = new Set(Object.keys(zhErrors.apiError.code)) as ReadonlySet<string>;

/** What an API error carries that the sentence is built from (an `ApiRequestError`). */
export interface ApiErrorLike {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

type Translate = (key: string, params?: Record<string, unknown>) => string;

const MAX_PATHS = 5;

/**
 * An API error as a sentence in the user's language: the code's own sentence, plus the fields
 * it names (`details[].path`). A code this client does not know gets a generic sentence with the
 * server's text, so nothing is lost when the server is newer than the page.
 */
export function apiErrorText(e: ApiErrorLike, t: Translate): string {
  if (!LOCALISED_CODES.has(e.code)) return t('apiError.unknown', { status: e.status, server: e.message || e.code });
  if (e.code === 'confirmation_required') {
    // the server names what and how many in its details: say it rather than list field paths
    const object = detailMessage(e.details, 'confirm.object');
    const count = detailMessage(e.details, 'confirm.count');
    if (object !== undefined && count !== undefined) return t('apiError.confirmWith', { object, count });
  }
  const sentence = t(`apiError.code.${e.code as ErrorCode}`);
  const paths = detailPaths(e.details);
  if (!paths.length) return sentence;
  const shown = paths.slice(0, MAX_PATHS).join(t('apiError.pathSeparator'));
  return sentence + t('apiError.fields', { paths: paths.length > MAX_PATHS ? `${shown}…` : shown });
}

function detailPaths(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  const paths = details.flatMap((d) =>
    d && typeof d === 'object' && typeof (d as { path?: unknown }).path === 'string' ? [(d as { path: string }).path] : [],
  );
  return [...new Set(paths.filter((p) => p !== ''))];
}

function detailMessage(details: unknown, path: string): string | undefined {
  if (!Array.isArray(details)) return undefined;
  const d = details.find((x) => x && typeof x === 'object' && (x as { path?: unknown }).path === path) as { message?: unknown } | undefined;
  return typeof d?.message === 'string' ? d.message : undefined;
}
