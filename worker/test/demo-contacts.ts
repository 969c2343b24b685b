import { env } from 'cloudflare:workers';
import { DEPARTMENT_PATH_SQL } from '@shared/rules/sql';
import { demoSql } from '@shared/demo';
import { evalDataFromRows } from '@shared/rules/data';
import type { GraphVocabulary } from '@shared/rules/random-graph';
import type { TagRow } from '@shared/rules/net-effect';
import type { EvalData } from '@shared/rules/types';
import type { TagInfo } from '../src/execution/published';

/** The demo data as the differential tests read it back: what SQL sees, as the JS evaluators take it. */
export interface DemoContacts {
  contacts: EvalData[];
  /** Values, tags, custom fields, channels and keywords random graphs draw from. */
  vocab: GraphVocabulary;
  tagRows: TagRow[];
  tagInfo: Map<number, TagInfo>;
  /** Every tag with its group and status, and every contact's held tags (for tests that pick tags by use). */
  tags: { id: number; group_id: number; exclusive: number; status: string }[];
  holdings: { contact_id: number; tag_id: number }[];
}

/**
 * Seeds the demo generator's contacts into the test's D1 and reads them back from D1: the JS side
 * sees exactly the rows SQL sees (contacts, held tags, daily rollup, raw events, custom fields).
 */
export async function loadDemoContacts(opts: {
  contacts: number;
  seed: number;
  now: number;
  avgEvents: number;
  tz: number;
}): Promise<DemoContacts> {
  const db = env.DB;
  const statements = [...demoSql({ contacts: opts.contacts, seed: opts.seed, now: opts.now, avgEvents: opts.avgEvents })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  const [rows, holdings, stats, events, custom, tags] = await Promise.all([
    // as the loaders read a contact: with its department's path (所属部门及下级)
    db.prepare(`SELECT c.*, ${DEPARTMENT_PATH_SQL} AS department_path FROM contacts c ORDER BY c.id`).all<Record<string, unknown>>(),
    db.prepare('SELECT contact_id, tag_id FROM contact_tags').all<{ contact_id: number; tag_id: number }>(),
    db
      .prepare('SELECT contact_id, type, day, count, amount FROM contact_daily_stats')
      .all<{ contact_id: number; type: string; day: number; count: number; amount: number }>(),
    db
      .prepare('SELECT contact_id, type, occurred_at, amount, channel, text FROM events')
      .all<{ contact_id: number; type: string; occurred_at: number; amount: number | null; channel: string | null; text: string | null }>(),
    db
      .prepare('SELECT key, label_zh, label_en, type FROM custom_fields')
      .all<{ key: string; label_zh: string; label_en: string; type: 'text' | 'number' | 'date' | 'boolean' | 'list' }>(),
    db
      .prepare('SELECT t.id, t.group_id, g.exclusive, t.status FROM tags t JOIN tag_groups g ON g.id = t.group_id ORDER BY t.id')
      .all<{ id: number; group_id: number; exclusive: number; status: string }>(),
  ]);
  const group = <T extends { contact_id: number }>(list: T[]) => {
    const m = new Map<number, T[]>();
    for (const x of list) m.set(x.contact_id, [...(m.get(x.contact_id) ?? []), x]);
    return m;
  };
  const tagsBy = group(holdings.results);
  const statsBy = group(stats.results);
  const eventsBy = group(events.results);
  const contacts = rows.results.map((c) =>
    evalDataFromRows(
      {
        contact: c,
        tagIds: (tagsBy.get(c.id as number) ?? []).map((t) => t.tag_id),
        stats: statsBy.get(c.id as number) ?? [],
        events: eventsBy.get(c.id as number) ?? [],
      },
      opts.now,
      opts.tz,
    ),
  );

  const values: GraphVocabulary['values'] = {};
  const customValues: GraphVocabulary['customValues'] = {};
  for (const d of contacts) {
    for (const [k, v] of Object.entries(d.contact)) {
      if (typeof v === 'string' || typeof v === 'number') (values[k] ??= []).push(v);
    }
    for (const [k, v] of Object.entries(d.contact.custom as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') (customValues[k] ??= []).push(v);
    }
  }
  const messageTexts = events.results.filter((e) => e.type === 'message' && e.text).map((e) => e.text as string);
  return {
    contacts,
    vocab: {
      values,
      customValues,
      tagIds: [...new Set(holdings.results.map((t) => t.tag_id))].sort((a, b) => a - b),
      customFields: custom.results.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type })),
      eventChannels: [...new Set(events.results.map((e) => e.channel).filter((c): c is string => !!c))],
      keywords: [...new Set(messageTexts.map((t) => [...t].slice(0, 2).join('')))],
    },
    tagRows: tags.results.map((x) => ({ id: x.id, groupId: x.group_id, exclusive: x.exclusive === 1 })),
    tagInfo: new Map(tags.results.map((x) => [x.id, { groupId: x.group_id, exclusive: x.exclusive === 1, active: x.status === 'active' }])),
    tags: tags.results,
    holdings: holdings.results,
  };
}
