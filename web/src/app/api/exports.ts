import type { ExportContactsBody } from '@shared/api/exports';
import type { SegmentExportBody } from '@shared/api/segments';
import { EXPORT_COUNT_HEADER } from '@shared/api/exports';
import { apiPostForFile } from './client';

/** Saves an export's answer as a file in the browser; resolves to the number of contacts in it. */
async function download(path: string, body: unknown, fallbackName: string): Promise<number> {
  const { blob, fileName, headers } = await apiPostForFile(path, body);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName ?? fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return Number(headers.get(EXPORT_COUNT_HEADER) ?? 0);
}

/** Downloads the export (CSV or XLSX) as a file in the browser; resolves to the number of contacts in it. */
export const downloadContacts = (body: ExportContactsBody) => download('/exports/contacts', body, `contacts.${body.format ?? 'csv'}`);

/** Downloads a segment's contacts (CSV or XLSX) as the viewer may see them; resolves to the number of contacts. */
export const downloadSegmentExport = (id: number, body: SegmentExportBody) =>
  download(`/segments/${id}/export`, body, `segment-${id}.${body.format}`);
