import type { ExportContactsBody } from '@shared/api/exports';
import { EXPORT_COUNT_HEADER } from '@shared/api/exports';
import { apiPostForFile } from './client';

/** Downloads the export as a file in the browser; resolves to the number of contacts in it. */
export async function downloadContactsCsv(body: ExportContactsBody): Promise<number> {
  const { blob, fileName, headers } = await apiPostForFile('/exports/contacts', body);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName ?? 'contacts.csv';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return Number(headers.get(EXPORT_COUNT_HEADER) ?? 0);
}
