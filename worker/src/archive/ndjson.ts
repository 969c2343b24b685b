/**
 * The archive's object format: one event per line (NDJSON), gzip-compressed, each line the D1
 * row as stored (column names, `properties` kept as its JSON text) so that what comes back
 * from R2 is byte for byte what left D1. `contact_id` leads each line so a reader looking for
 * one contact can skip the other lines without parsing them.
 */
import type { ContactEventRow } from '../db/rows';

/** The columns archived, in line order (contact first, see above). */
export const ARCHIVE_COLUMNS = [
  'contact_id',
  'id',
  'source_id',
  'sender_event_id',
  'type',
  'occurred_at',
  'received_at',
  'amount',
  'channel',
  'group_id',
  'text',
  'properties',
] as const satisfies readonly (keyof ContactEventRow)[];

/** The NDJSON text of rows, in the order given. */
export function toNdjson(rows: readonly ContactEventRow[]): string {
  let out = '';
  for (const r of rows) {
    const line: Record<string, unknown> = {};
    for (const c of ARCHIVE_COLUMNS) line[c] = r[c];
    out += JSON.stringify(line) + '\n';
  }
  return out;
}

/** The rows of an NDJSON text, optionally only one contact's (lines of others are not parsed). */
export function fromNdjson(text: string, contactId?: number): ContactEventRow[] {
  const prefix = contactId === undefined ? '' : `{"contact_id":${contactId},`;
  const rows: ContactEventRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || !line.startsWith(prefix)) continue;
    rows.push(JSON.parse(line) as ContactEventRow);
  }
  return rows;
}

export async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

export async function gunzip(body: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(body.pipeThrough(new DecompressionStream('gzip'))).text();
}
